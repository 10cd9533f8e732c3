"""Input and output shapes of the Inventory API. No serializer writes: the services do."""

import contextlib
import uuid

from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import (
    PrefetchedRelatedField,
    StrictModelSerializer,
    StrictSerializer,
    TenantRelatedField,
)
from inventory import shapes
from inventory.models import (
    CashMovement,
    Category,
    Customer,
    Payment,
    Product,
    ProductImport,
    Refund,
    RefundLine,
    RefundPayment,
    Sale,
    SaleLine,
    Shift,
    StockLevel,
    StockMovement,
    Supplier,
)
from tenants.models import Store
from tenants.rows import row_get, rows_get


def related(model, **kwargs):
    return TenantRelatedField(model, **kwargs)


class StoreSerializer(StrictModelSerializer):
    class Meta:
        model = Store
        fields = [
            "id",
            "name",
            "code",
            "address",
            "allow_negative_stock",
            "active",
            "time_zone",
            "business_id",
            "receipt_auto_print",
            "created_at",
        ]
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

    # Rendered by hand (inventory.shapes): the fields above are the schema and the input.
    def to_representation(self, product):
        return shapes.product_shape(product)


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


class DiscountIn(StrictSerializer):
    """A percent or an amount (one of the two), with a reason."""

    percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, min_value=0, max_value=100
    )
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def validate(self, data):
        if ("percent" in data) == ("amount" in data):
            raise serializers.ValidationError(gettext("Give a percent or an amount."))
        return data


class ApprovalIn(StrictSerializer):
    """A manager's credentials, checked by the sign-in rules (lockout, one-time code) and logged."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    otp = serializers.CharField(max_length=32, required=False, allow_blank=True)


class SaleLineIn(StrictSerializer):
    product = PrefetchedRelatedField(Product)  # read for every line at once by SaleIn
    quantity = serializers.IntegerField(min_value=1, max_value=100000)
    discount = DiscountIn(required=False)


class PaymentIn(StrictSerializer):
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class SaleIn(StrictSerializer):
    store = PrefetchedRelatedField(Store)  # read by SaleIn with the lines' products
    lines = SaleLineIn(many=True, allow_empty=False, max_length=500)
    payments = PaymentIn(many=True, max_length=20)
    customer = related(Customer, required=False, allow_null=True)
    discount = DiscountIn(required=False, help_text="a discount of the whole basket")
    register = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        default="",
        help_text="the register (as its shift was opened); left out: the store's only open shift",
    )
    approved_by = ApprovalIn(required=False, help_text="a manager's approval of a discount above the limit")

    def to_internal_value(self, data):
        # Every line's product in one query, not one per line, and the store, each by a statement
        # written once (tenants.rows: the ORM compiled them on every sale, ~0.7 ms of its CPU).
        # Ids that are not found, or not well-formed, are looked up and refused as before.
        if isinstance(data, dict):
            prefetched = self.context.setdefault("prefetched", {})
            if isinstance(data.get("store"), str):
                store = row_get(Store, data["store"])
                prefetched[Store] = {data["store"]: store} if store is not None else {}
            lines = data.get("lines")
            if isinstance(lines, list):
                ids = []
                for line in lines[:500]:
                    candidate = line.get("product") if isinstance(line, dict) else None
                    if isinstance(candidate, str):
                        with contextlib.suppress(ValueError):
                            ids.append(uuid.UUID(candidate))
                if ids:
                    prefetched[Product] = {str(p.pk): p for p in rows_get(Product, ids)}
        return super().to_internal_value(data)


class SaleLineOut(StrictModelSerializer):
    net = serializers.SerializerMethodField(help_text="the line's total less its tax")

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
            "list_total",
            "discount",
            "basket_discount",
            "discount_percent",
            "discount_amount",
            "discount_reason",
            "line_total",
            "line_tax",
            "net",
            "refunded_quantity",
        ]

    def get_net(self, line) -> str:
        return str(line.line_total - line.line_tax)


class PaymentOut(StrictModelSerializer):
    class Meta:
        model = Payment
        fields = ["method", "amount", "reference"]


class TaxOut(serializers.Serializer):
    rate = serializers.DecimalField(max_digits=5, decimal_places=2)
    net = serializers.DecimalField(max_digits=12, decimal_places=2)
    tax = serializers.DecimalField(max_digits=12, decimal_places=2)
    gross = serializers.DecimalField(max_digits=12, decimal_places=2)


class BasketDiscountOut(serializers.Serializer):
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    reason = serializers.CharField()


class SaleOut(StrictModelSerializer):
    lines = SaleLineOut(many=True, read_only=True)
    payments = PaymentOut(many=True, read_only=True)
    taxes = TaxOut(many=True, read_only=True)
    discount = serializers.SerializerMethodField()

    class Meta:
        model = Sale
        fields = [
            "id",
            "store",
            "receipt_number",
            "status",
            "customer",
            "cashier",
            "register",
            "shift",
            "currency",
            "subtotal",
            "tax_total",
            "total",
            "taxes",
            "discount_total",
            "discount",
            "approved_by",
            "paid",
            "change_due",
            "refunded_total",
            "lines",
            "payments",
            "created_at",
            "updated_at",
        ]

    # Rendered by hand (inventory.shapes), from the lines, payments and taxes sale_create handed
    # back or the query prefetched: the fields here are the schema.
    def to_representation(self, sale):
        return shapes.sale_shape(sale, sale.lines.all(), sale.payments.all(), sale.taxes.all())

    @extend_schema_field(BasketDiscountOut(allow_null=True))
    def get_discount(self, sale):
        if sale.basket_discount_percent is None and sale.basket_discount_amount is None:
            return None
        return {
            "percent": None if sale.basket_discount_percent is None else str(sale.basket_discount_percent),
            "amount": None if sale.basket_discount_amount is None else str(sale.basket_discount_amount),
            "reason": sale.basket_discount_reason,
        }


class RefundLineIn(StrictSerializer):
    line = serializers.UUIDField(help_text="id of a line of the sale")
    quantity = serializers.IntegerField(min_value=1)


class RefundPaymentIn(StrictSerializer):
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class RefundIn(StrictSerializer):
    lines = RefundLineIn(
        many=True, required=False, allow_empty=False, help_text="leave out to refund everything"
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    restock = serializers.BooleanField(default=True)
    payments = RefundPaymentIn(
        many=True,
        required=False,
        allow_empty=False,
        max_length=20,
        help_text="how the money went back; left out: the sale's tenders (card and voucher first)",
    )
    register = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    approved_by = ApprovalIn(required=False, help_text="a manager's approval when the caller may not refund")


class ReturnLineIn(StrictSerializer):
    product = related(Product)
    quantity = serializers.IntegerField(min_value=1, max_value=100000)


class ReturnIn(StrictSerializer):
    store = related(Store)
    lines = ReturnLineIn(many=True, allow_empty=False, max_length=500)
    reason = serializers.CharField(max_length=200)
    payments = RefundPaymentIn(many=True, allow_empty=False, max_length=20)
    restock = serializers.BooleanField(default=True)
    register = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    approved_by = ApprovalIn(
        required=False,
        help_text="a manager's approval when the caller may not take back goods without a receipt",
    )


class RefundLineOut(StrictModelSerializer):
    class Meta:
        model = RefundLine
        fields = ["sale_line", "product", "sku", "name", "tax_rate", "quantity", "amount", "tax"]


class RefundPaymentOut(StrictModelSerializer):
    class Meta:
        model = RefundPayment
        fields = ["method", "amount", "reference"]


class RefundOut(StrictModelSerializer):
    lines = RefundLineOut(many=True, read_only=True)
    payments = RefundPaymentOut(many=True, read_only=True)
    taxes = TaxOut(many=True, read_only=True)

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
            "taxes",
            "lines",
            "payments",
            "register",
            "shift",
            "approved_by",
            "created_at",
            "updated_at",
        ]


class ShiftIn(StrictSerializer):
    store = related(Store)
    register = serializers.CharField(max_length=64)
    opening_float = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)


class ShiftOut(StrictModelSerializer):
    class Meta:
        model = Shift
        fields = [
            "id",
            "store",
            "register",
            "status",
            "opening_float",
            "opened_by",
            "opened_at",
            "counted_cash",
            "closed_by",
            "closed_at",
        ]


class CashMovementIn(StrictSerializer):
    kind = serializers.ChoiceField(choices=CashMovement.Kind.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    reason = serializers.CharField(max_length=200)


class CashMovementOut(StrictModelSerializer):
    class Meta:
        model = CashMovement
        fields = ["id", "shift", "kind", "amount", "reason", "actor", "created_at"]


class ShiftCloseIn(StrictSerializer):
    counted_cash = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)


class TenderOut(serializers.Serializer):
    method = serializers.CharField()
    sales = serializers.DecimalField(max_digits=12, decimal_places=2)
    refunds = serializers.DecimalField(max_digits=12, decimal_places=2)
    net = serializers.DecimalField(max_digits=12, decimal_places=2)


class CashMovementLineOut(serializers.Serializer):
    kind = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    reason = serializers.CharField()
    at = serializers.DateTimeField()


class ShiftReportOut(serializers.Serializer):
    """An X report (an open shift's figures so far) or a Z report (a closed shift's, stored)."""

    kind = serializers.ChoiceField(choices=["X", "Z"])
    shift = serializers.UUIDField()
    store = serializers.UUIDField()
    store_name = serializers.CharField()
    register = serializers.CharField()
    time_zone = serializers.CharField()
    opened_at = serializers.DateTimeField(help_text="in the store's local time, with its offset")
    opened_by = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_by = serializers.CharField()
    sales_count = serializers.IntegerField()
    sales = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="sales' totals, tax included")
    refunds_count = serializers.IntegerField()
    refunds = serializers.DecimalField(max_digits=12, decimal_places=2)
    discounts = serializers.DecimalField(max_digits=12, decimal_places=2)
    taxes = TaxOut(many=True, help_text="per rate: the sales less the refunds")
    tenders = TenderOut(many=True)
    opening_float = serializers.DecimalField(max_digits=12, decimal_places=2)
    pay_ins = serializers.DecimalField(max_digits=12, decimal_places=2)
    pay_outs = serializers.DecimalField(max_digits=12, decimal_places=2)
    cash_movements = CashMovementLineOut(many=True)
    expected_cash = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="opening float + cash taken - cash refunded + pay-ins - pay-outs",
    )
    counted_cash = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    over_short = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="counted - expected"
    )


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
            raise serializers.ValidationError({"product": [gettext("Give the product's id or its sku.")]})
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
