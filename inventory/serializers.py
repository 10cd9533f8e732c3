"""Input and output shapes of the Inventory API. No serializer writes: the services do."""

import contextlib
import uuid

from django.utils.translation import gettext
from rest_framework import serializers

from core.serializers import (
    PrefetchedRelatedField,
    StrictModelSerializer,
    StrictSerializer,
    TenantRelatedField,
)
from inventory.models import (
    Category,
    Customer,
    Payment,
    Product,
    ProductImport,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    StockLevel,
    StockMovement,
    Supplier,
)
from tenants.models import Store


def related(model, **kwargs):
    return TenantRelatedField(model, **kwargs)


class StoreSerializer(StrictModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "name", "code", "address", "allow_negative_stock", "active", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list = []  # uniqueness is checked by the service under the tenant


class CategorySerializer(StrictModelSerializer):
    parent = related(Category, required=False, allow_null=True)

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "updated_at"]
        read_only_fields = ["id", "updated_at"]
        validators: list = []


class SupplierSerializer(StrictModelSerializer):
    class Meta:
        model = Supplier
        fields = ["id", "name", "email", "phone", "notes", "external_id", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []


class ProductSerializer(StrictModelSerializer):
    category = related(Category, required=False, allow_null=True)
    supplier = related(Supplier, required=False, allow_null=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "barcode",
            "name",
            "description",
            "category",
            "supplier",
            "price",
            "cost",
            "tax_rate",
            "active",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # No silent default: a product without a tax rate is a 400, not 0.00 % tax.
        extra_kwargs = {"tax_rate": {"required": True}}
        validators: list = []


class CustomerSerializer(StrictModelSerializer):
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True)
    phone = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=40)
    notes = serializers.CharField(required=False, allow_blank=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "notes",
            "external_id",
            "created_at",
            "updated_at",
            "erased_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "erased_at"]


class StockLevelSerializer(StrictModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    below_reorder_point = serializers.SerializerMethodField()

    class Meta:
        model = StockLevel
        fields = [
            "id",
            "store",
            "product",
            "sku",
            "quantity",
            "reorder_point",
            "reorder_quantity",
            "below_reorder_point",
            "updated_at",
        ]
        read_only_fields = fields

    def get_below_reorder_point(self, level) -> bool:
        return level.quantity <= level.reorder_point


class StockLevelUpdateIn(StrictSerializer):
    reorder_point = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    reorder_quantity = serializers.IntegerField(
        min_value=0, max_value=1_000_000, required=False, help_text="units to order at the reorder point"
    )

    def validate(self, data):
        if not data:
            raise serializers.ValidationError(
                {"reorder_point": gettext("Give reorder_point or reorder_quantity.")}
            )
        return data


class StockMovementSerializer(StrictModelSerializer):
    class Meta:
        model = StockMovement
        fields = [
            "id",
            "store",
            "product",
            "kind",
            "quantity",
            "balance_after",
            "reason",
            "unit_cost",
            "supplier",
            "sale",
            "refund",
            "transfer_id",
            "actor",
            "created_at",
        ]
        read_only_fields = fields


class StockMovementIn(StrictSerializer):
    KINDS = ["receive", "adjust", "transfer", "count"]

    store = related(Store)
    product = related(Product)
    kind = serializers.ChoiceField(choices=KINDS)
    quantity = serializers.IntegerField(
        help_text="receive, transfer: units (> 0); adjust: signed change; count: units counted"
    )
    to_store = related(Store, required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True)
    supplier = related(Supplier, required=False, allow_null=True)

    def validate(self, data):
        if data["kind"] == "transfer" and not data.get("to_store"):
            raise serializers.ValidationError({"to_store": gettext("A transfer needs the store to send to.")})
        return data


class SaleLineIn(StrictSerializer):
    product = PrefetchedRelatedField(Product)  # read for every line at once by SaleIn
    quantity = serializers.IntegerField(min_value=1, max_value=100000)


class PaymentIn(StrictSerializer):
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class SaleIn(StrictSerializer):
    store = related(Store)
    lines = SaleLineIn(many=True, allow_empty=False, max_length=500)
    payments = PaymentIn(many=True, max_length=20)
    customer = related(Customer, required=False, allow_null=True)

    def to_internal_value(self, data):
        # Every line's product in one query, not one per line (ids that are not found, or not
        # well-formed, are looked up and refused line by line as before).
        lines = data.get("lines") if isinstance(data, dict) else None
        if isinstance(lines, list):
            ids = []
            for line in lines[:500]:
                candidate = line.get("product") if isinstance(line, dict) else None
                if isinstance(candidate, str):
                    with contextlib.suppress(ValueError):
                        ids.append(uuid.UUID(candidate))
            if ids:
                found = Product.objects.filter(pk__in=ids)
                self.context.setdefault("prefetched", {})[Product] = {str(p.pk): p for p in found}
        return super().to_internal_value(data)


class SaleLineOut(StrictModelSerializer):
    class Meta:
        model = SaleLine
        fields = [
            "id",
            "product",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "tax_rate",
            "line_total",
            "line_tax",
            "refunded_quantity",
        ]


class PaymentOut(StrictModelSerializer):
    class Meta:
        model = Payment
        fields = ["method", "amount", "reference"]


class SaleOut(StrictModelSerializer):
    lines = SaleLineOut(many=True, read_only=True)
    payments = PaymentOut(many=True, read_only=True)

    class Meta:
        model = Sale
        fields = [
            "id",
            "store",
            "receipt_number",
            "status",
            "customer",
            "cashier",
            "currency",
            "subtotal",
            "tax_total",
            "total",
            "paid",
            "change_due",
            "refunded_total",
            "lines",
            "payments",
            "created_at",
            "updated_at",
        ]


class RefundLineIn(StrictSerializer):
    line = serializers.UUIDField(help_text="id of a line of the sale")
    quantity = serializers.IntegerField(min_value=1)


class RefundIn(StrictSerializer):
    lines = RefundLineIn(
        many=True, required=False, allow_empty=False, help_text="leave out to refund everything"
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    restock = serializers.BooleanField(default=True)


class RefundLineOut(StrictModelSerializer):
    class Meta:
        model = RefundLine
        fields = ["sale_line", "quantity", "amount", "tax"]


class RefundOut(StrictModelSerializer):
    lines = RefundLineOut(many=True, read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "sale",
            "store",
            "reason",
            "restock",
            "total",
            "tax_total",
            "lines",
            "created_at",
            "updated_at",
        ]


class ProductImportOut(StrictModelSerializer):
    """A CSV import job: its status, percentage, counts and refused rows (never the file)."""

    class Meta:
        model = ProductImport
        fields = [
            "id",
            "status",
            "progress",
            "filename",
            "total_rows",
            "dry_run",
            "create_categories",
            "locale",
            "created",
            "updated",
            "unchanged",
            "failed",
            "errors",
            "changes",
            "categories_created",
            "applied_at",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ProductBulkRow(StrictSerializer):
    """One row of a bulk upsert: `sku` always; `name`, `price` and `tax_rate` to create."""

    sku = serializers.CharField(max_length=64)
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
    barcode = serializers.CharField(max_length=64, required=False, allow_blank=True)
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    category = serializers.UUIDField(required=False, allow_null=True)
    supplier = serializers.UUIDField(required=False, allow_null=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    cost = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    active = serializers.BooleanField(required=False)


class ProductBulkIn(StrictSerializer):
    products = ProductBulkRow(many=True, allow_empty=False, max_length=1000)


class ProductBulkResult(serializers.Serializer):
    sku = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "invalid"])
    id = serializers.UUIDField(required=False)
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="why a row is invalid",
    )


class ProductBulkOut(serializers.Serializer):
    results = ProductBulkResult(many=True)


class StockCountRow(StrictSerializer):
    store = serializers.UUIDField()
    product = serializers.UUIDField(required=False, help_text="the product's id, or give its sku")
    sku = serializers.CharField(max_length=64, required=False)
    counted = serializers.IntegerField(min_value=0, max_value=10_000_000)

    def validate(self, data):
        if not data.get("product") and not data.get("sku"):
            raise serializers.ValidationError({"product": ["Give the product's id or its sku."]})
        return data


class StockCountBulkIn(StrictSerializer):
    counts = StockCountRow(many=True, allow_empty=False, max_length=1000)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class StockCountResult(serializers.Serializer):
    store = serializers.UUIDField(allow_null=True)
    product = serializers.UUIDField(allow_null=True)
    sku = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["updated", "unchanged", "invalid"])
    quantity = serializers.IntegerField(required=False, help_text="the stock after the count")
    movement = serializers.UUIDField(required=False, help_text="the count movement written")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class StockCountBulkOut(serializers.Serializer):
    results = StockCountResult(many=True)
