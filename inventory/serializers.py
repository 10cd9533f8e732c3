"""Input and output shapes of the Inventory API. No serializer writes: the services do."""

from django.utils.translation import gettext
from rest_framework import serializers

from core.serializers import TenantRelatedField
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


class StoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "name", "code", "address", "allow_negative_stock", "active", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list = []  # uniqueness is checked by the service under the tenant


class CategorySerializer(serializers.ModelSerializer):
    parent = related(Category, required=False, allow_null=True)

    class Meta:
        model = Category
        fields = ["id", "name", "parent"]
        validators: list = []


class SupplierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Supplier
        fields = ["id", "name", "email", "phone", "notes", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list = []


class ProductSerializer(serializers.ModelSerializer):
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
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []


class CustomerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True)
    phone = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=40)
    notes = serializers.CharField(required=False, allow_blank=True)

    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone", "notes", "created_at", "erased_at"]
        read_only_fields = ["id", "created_at", "erased_at"]


class StockLevelSerializer(serializers.ModelSerializer):
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


class StockLevelUpdateIn(serializers.Serializer):
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


class StockMovementSerializer(serializers.ModelSerializer):
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


class StockMovementIn(serializers.Serializer):
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


class SaleLineIn(serializers.Serializer):
    product = related(Product)
    quantity = serializers.IntegerField(min_value=1, max_value=100000)


class PaymentIn(serializers.Serializer):
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class SaleIn(serializers.Serializer):
    store = related(Store)
    lines = SaleLineIn(many=True, allow_empty=False, max_length=500)
    payments = PaymentIn(many=True, max_length=20)
    customer = related(Customer, required=False, allow_null=True)


class SaleLineOut(serializers.ModelSerializer):
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


class PaymentOut(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["method", "amount", "reference"]


class SaleOut(serializers.ModelSerializer):
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
        ]


class RefundLineIn(serializers.Serializer):
    line = serializers.UUIDField(help_text="id of a line of the sale")
    quantity = serializers.IntegerField(min_value=1)


class RefundIn(serializers.Serializer):
    lines = RefundLineIn(
        many=True, required=False, allow_empty=False, help_text="leave out to refund everything"
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    restock = serializers.BooleanField(default=True)


class RefundLineOut(serializers.ModelSerializer):
    class Meta:
        model = RefundLine
        fields = ["sale_line", "quantity", "amount", "tax"]


class RefundOut(serializers.ModelSerializer):
    lines = RefundLineOut(many=True, read_only=True)

    class Meta:
        model = Refund
        fields = ["id", "sale", "store", "reason", "restock", "total", "tax_total", "lines", "created_at"]


class ProductImportOut(serializers.ModelSerializer):
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
