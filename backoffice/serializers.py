"""Input and output shapes of the back-office API. No serializer writes: the services do."""

from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backoffice.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Stocktake,
    StocktakeLine,
    Transfer,
    TransferLine,
)
from backoffice.services.purchasing import MAX_LINES, MAX_QUANTITY
from backoffice.services.stocktakes import MAX_COUNT, MAX_COUNTS
from core.serializers import TenantRelatedField
from inventory.models import Category, Product, Supplier
from tenants.models import Store

COST = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0"), "max_value": Decimal("999999.99")}


def related(model, **kwargs):
    return TenantRelatedField(model, **kwargs)


# --- purchase orders --------------------------------------------------------------------------


class PurchaseOrderLineIn(serializers.Serializer):
    product = related(Product)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_cost = serializers.DecimalField(
        **COST, required=False, allow_null=True, help_text="left out: the product's current cost"
    )


class PurchaseOrderIn(serializers.Serializer):
    supplier = related(Supplier)
    store = related(Store)
    lines = PurchaseOrderLineIn(many=True, max_length=MAX_LINES, required=False, default=list)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    expected_on = serializers.DateField(required=False, allow_null=True, default=None)


class PurchaseOrderUpdateIn(serializers.Serializer):
    """A draft's changes; `lines`, when given, replace all of its lines."""

    supplier = related(Supplier, required=False)
    lines = PurchaseOrderLineIn(many=True, max_length=MAX_LINES, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    expected_on = serializers.DateField(required=False)


class PurchaseOrderLineOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = PurchaseOrderLine
        fields = ["id", "product", "sku", "name", "quantity", "received", "unit_cost"]
        read_only_fields = fields


class PurchaseOrderOut(serializers.ModelSerializer):
    lines = PurchaseOrderLineOut(many=True, read_only=True)
    total = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, help_text="quantity x unit cost of every line"
    )

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "number",
            "supplier",
            "store",
            "status",
            "notes",
            "expected_on",
            "lines",
            "total",
            "created_by",
            "created_at",
            "ordered_at",
            "closed_at",
            "updated_at",
        ]
        read_only_fields = fields


class ReceiveLineIn(serializers.Serializer):
    line = serializers.UUIDField(help_text="the id of a line of the purchase order")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class PurchaseOrderReceiveIn(serializers.Serializer):
    lines = ReceiveLineIn(many=True, allow_empty=False, max_length=MAX_LINES)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


# --- stocktakes -------------------------------------------------------------------------------


class StocktakeIn(serializers.Serializer):
    store = related(Store)
    products = serializers.ListField(
        child=related(Product),
        required=False,
        allow_empty=False,
        max_length=MAX_COUNTS * 4,
        help_text="left out: every product (or the category's)",
    )
    category = related(
        Category, required=False, allow_null=True, help_text="a category and its subcategories"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate(self, data):
        if data.get("products") and data.get("category"):
            raise serializers.ValidationError({"products": _("Name products or a category, not both.")})
        return data


class StocktakeLineOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)
    barcode = serializers.CharField(source="product.barcode", read_only=True)
    value = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="difference x unit cost, once finished",
    )

    class Meta:
        model = StocktakeLine
        fields = [
            "id",
            "product",
            "sku",
            "name",
            "barcode",
            "expected",
            "counted",
            "stock_at_count",
            "counted_by",
            "counted_at",
            "difference",
            "unit_cost",
            "value",
        ]
        read_only_fields = fields


class VarianceOut(serializers.Serializer):
    quantity = serializers.IntegerField(help_text="sum of the differences (counted - expected at count)")
    value = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="the differences at cost")
    shrinkage_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="what is missing, at cost"
    )


class ProgressOut(serializers.Serializer):
    lines = serializers.IntegerField()
    counted = serializers.IntegerField()
    percent = serializers.IntegerField()


class StocktakeSummaryOut(serializers.ModelSerializer):
    variance = serializers.SerializerMethodField()

    class Meta:
        model = Stocktake
        fields = [
            "id",
            "number",
            "store",
            "category",
            "status",
            "note",
            "started_by",
            "started_at",
            "finished_by",
            "finished_at",
            "variance",
        ]
        read_only_fields = fields

    @extend_schema_field(VarianceOut)
    def get_variance(self, stocktake):
        return VarianceOut(
            {
                "quantity": stocktake.variance_quantity,
                "value": stocktake.variance_value,
                "shrinkage_value": stocktake.shrinkage_value,
            }
        ).data


class StocktakeOut(StocktakeSummaryOut):
    """A stocktake with its lines: once finished, the variance report."""

    progress = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()

    class Meta(StocktakeSummaryOut.Meta):
        fields = [*StocktakeSummaryOut.Meta.fields, "progress", "lines"]
        read_only_fields = fields

    def _lines(self, stocktake):
        if not hasattr(stocktake, "_lines"):
            stocktake._lines = list(stocktake.lines.select_related("product").order_by("product__sku"))
        return stocktake._lines

    @extend_schema_field(ProgressOut)
    def get_progress(self, stocktake):
        lines = self._lines(stocktake)
        counted = sum(1 for line in lines if line.counted is not None)
        return ProgressOut(
            {
                "lines": len(lines),
                "counted": counted,
                "percent": counted * 100 // len(lines) if lines else 100,
            }
        ).data

    @extend_schema_field(StocktakeLineOut(many=True))
    def get_lines(self, stocktake):
        return StocktakeLineOut(self._lines(stocktake), many=True).data


class CountIn(serializers.Serializer):
    product = related(Product)
    counted = serializers.IntegerField(min_value=0, max_value=MAX_COUNT)


class CountsIn(serializers.Serializer):
    counts = CountIn(many=True, allow_empty=False, max_length=MAX_COUNTS)


class CountsOut(serializers.Serializer):
    lines = StocktakeLineOut(many=True)


class FinishIn(serializers.Serializer):
    uncounted = serializers.ChoiceField(
        choices=["keep", "zero"],
        default="keep",
        help_text="products never counted: keep their stock, or count them as none",
    )


# --- transfers --------------------------------------------------------------------------------


class TransferLineIn(serializers.Serializer):
    product = related(Product)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class TransferIn(serializers.Serializer):
    from_store = related(Store)
    to_store = related(Store)
    lines = TransferLineIn(many=True, allow_empty=False, max_length=MAX_LINES)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ArrivalIn(serializers.Serializer):
    line = serializers.UUIDField(help_text="the id of a line of the transfer")
    quantity = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY, help_text="units that arrived")


class TransferReceiveIn(serializers.Serializer):
    lines = ArrivalIn(
        many=True, required=False, max_length=MAX_LINES, help_text="left out: all arrived as sent"
    )
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=500, default="", help_text="required when less arrived"
    )


class TransferLineOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = TransferLine
        fields = ["id", "product", "sku", "name", "quantity", "received"]
        read_only_fields = fields


class TransferOut(serializers.ModelSerializer):
    lines = TransferLineOut(many=True, read_only=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "number",
            "from_store",
            "to_store",
            "status",
            "note",
            "lines",
            "sent_by",
            "sent_at",
            "received_by",
            "received_at",
            "discrepancy_note",
        ]
        read_only_fields = fields


# --- reorder ----------------------------------------------------------------------------------


class ReorderRowOut(serializers.Serializer):
    product = serializers.UUIDField(source="product.pk")
    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    quantity = serializers.IntegerField(help_text="in stock")
    reorder_point = serializers.IntegerField()
    reorder_quantity = serializers.IntegerField()
    on_order = serializers.IntegerField(help_text="outstanding on open purchase orders")
    suggested = serializers.IntegerField()
    unit_cost = serializers.DecimalField(source="product.cost", max_digits=12, decimal_places=2)


class ReorderGroupOut(serializers.Serializer):
    supplier = serializers.UUIDField(source="supplier.pk", allow_null=True, default=None)
    supplier_name = serializers.CharField(source="supplier.name", allow_null=True, default=None)
    lines = ReorderRowOut(source="rows", many=True)


class ReorderListOut(serializers.Serializer):
    store = serializers.UUIDField()
    results = ReorderGroupOut(many=True)


class ReorderIn(serializers.Serializer):
    store = related(Store)
    suppliers = serializers.ListField(
        child=related(Supplier),
        required=False,
        allow_empty=False,
        max_length=500,
        help_text="left out: every supplier",
    )


class ReorderOut(serializers.Serializer):
    purchase_orders = PurchaseOrderOut(many=True)
