"""The reports API: sales, tax and stock value, as JSON or `?format=csv`."""

from datetime import date, datetime

from django.http import HttpResponse
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import authz
from accounts.api_permissions import Can
from accounts.permissions import VIEW_SALES
from auditlog.apis import CsvRenderer
from core.serializers import TenantRelatedField
from reports import selectors
from tenants.models import Store

SALES_FIELDS = ["key", "name", "quantity", "gross", "discounts", "net", "tax", "cost", "margin"]
TAX_FIELDS = ["rate", "net", "tax", "gross"]
STOCK_FIELDS = ["store", "store_name", "product", "sku", "name", "quantity", "cost", "value"]


class DayOrInstantField(serializers.Field):
    """A local date (YYYY-MM-DD: the store's own day) or an instant with an offset (ISO 8601)."""

    def to_internal_value(self, data):
        text = str(data).strip()
        if len(text) > 40:
            raise serializers.ValidationError(gettext("A date (YYYY-MM-DD) or a time with an offset."))
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise serializers.ValidationError(
                gettext("A date (YYYY-MM-DD) or a time with an offset.")
            ) from None
        if moment.tzinfo is None:
            raise serializers.ValidationError(gettext("A time needs its offset (such as +02:00)."))
        return moment

    def to_representation(self, value):
        return value.isoformat()


class PeriodIn(serializers.Serializer):
    since = DayOrInstantField(required=False, help_text="first local day (YYYY-MM-DD) or an instant")
    until = DayOrInstantField(required=False, help_text="last local day (included) or an instant (excluded)")
    store = TenantRelatedField(Store, required=False)

    def validate(self, data):
        default = selectors.Period.default()
        since, until = data.get("since", default.since), data.get("until", default.until)
        if type(since) is not type(until):
            since_day = since.date() if isinstance(since, datetime) else since
            until_day = until.date() if isinstance(until, datetime) else until
        else:
            since_day, until_day = since, until
        if isinstance(since_day, datetime):
            since_day, until_day = since_day.date(), until_day.date()
        if since_day > until_day:
            raise serializers.ValidationError({"since": gettext("The start is after the end.")})
        if (until_day - since_day).days >= selectors.MAX_DAYS:
            raise serializers.ValidationError(
                {"until": gettext("At most %(n)d days.") % {"n": selectors.MAX_DAYS}}
            )
        data["period"] = selectors.Period(since=since, until=until)
        return data


class SalesIn(PeriodIn):
    group_by = serializers.ChoiceField(choices=selectors.GROUPS, default="day")


class SalesTotalsOut(serializers.Serializer):
    quantity = serializers.IntegerField()
    gross = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="paid, tax included")
    discounts = serializers.DecimalField(max_digits=14, decimal_places=2)
    net = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="gross less tax")
    tax = serializers.DecimalField(max_digits=14, decimal_places=2)
    cost = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="at today's product cost")
    margin = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="net less cost")


class SalesRowOut(SalesTotalsOut):
    key = serializers.CharField(help_text="the local day, SKU, category, store or cashier")
    name = serializers.CharField(help_text="the product's name when grouped by product")


class SalesReportOut(serializers.Serializer):
    group_by = serializers.CharField()
    since = serializers.CharField()
    until = serializers.CharField()
    rows = SalesRowOut(many=True)
    totals = SalesTotalsOut()


class TaxRowOut(serializers.Serializer):
    rate = serializers.DecimalField(max_digits=5, decimal_places=2)
    net = serializers.DecimalField(max_digits=14, decimal_places=2)
    tax = serializers.DecimalField(max_digits=14, decimal_places=2)
    gross = serializers.DecimalField(max_digits=14, decimal_places=2)


class TaxReportOut(serializers.Serializer):
    since = serializers.CharField()
    until = serializers.CharField()
    rows = TaxRowOut(many=True)


class StockRowOut(serializers.Serializer):
    store = serializers.UUIDField()
    store_name = serializers.CharField()
    product = serializers.UUIDField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=12, decimal_places=2)
    value = serializers.DecimalField(max_digits=14, decimal_places=2)


class StockValueReportOut(serializers.Serializer):
    rows = StockRowOut(many=True)
    total_quantity = serializers.IntegerField()
    total_value = serializers.DecimalField(max_digits=14, decimal_places=2)


class StoreIn(serializers.Serializer):
    store = TenantRelatedField(Store, required=False)


def _csv(name: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(selectors.csv_text(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _text(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


FORMAT = OpenApiParameter("format", str, enum=["json", "csv"], description="csv: the rows as a CSV file")
PERIOD = [
    OpenApiParameter("since", str, description="YYYY-MM-DD (the store's local day) or an ISO 8601 time"),
    OpenApiParameter("until", str, description="YYYY-MM-DD (included) or an ISO 8601 time (excluded)"),
    OpenApiParameter("store", str),
    FORMAT,
]


class _ReportApi(APIView):
    permission_classes = [Can(VIEW_SALES)]
    renderer_classes = [JSONRenderer, CsvRenderer]

    def csv_wanted(self, request) -> bool:
        return request.accepted_renderer.format == "csv"

    def store_of(self, request, values) -> Store | None:
        """The store asked for; one of the tenant's where the reader may not view sales is 403."""
        store = values.get("store")
        if store is not None and not authz.can(request.user, VIEW_SALES, store):
            raise PermissionDenied(
                gettext("You may not view the sales of %(store)s.") % {"store": store.name}
            )
        return store


class SalesReportApi(_ReportApi):
    """Sales less refunds by local day, product, category, store or cashier."""

    @extend_schema(
        operation_id="reports_sales",
        parameters=[OpenApiParameter("group_by", str, enum=list(selectors.GROUPS)), *PERIOD],
        responses=SalesReportOut,
    )
    def get(self, request):
        data = SalesIn(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        period = values["period"]
        rows = selectors.sales_report(
            user=request.user,
            group_by=values["group_by"],
            period=period,
            store=self.store_of(request, values),
        )
        if self.csv_wanted(request):
            return _csv(
                f"sales-by-{values['group_by']}", SALES_FIELDS, ([r[f] for f in SALES_FIELDS] for r in rows)
            )
        totals = selectors.totals(rows, ["quantity", "gross", "discounts", "net", "tax", "cost", "margin"])
        return Response(
            {
                "group_by": values["group_by"],
                "since": _text(period.since),
                "until": _text(period.until),
                "rows": SalesRowOut(rows, many=True).data,
                "totals": {k: str(v) if not isinstance(v, int) else v for k, v in totals.items()},
            }
        )


class TaxReportApi(_ReportApi):
    """Per tax rate: net, tax and gross of the sales less the refunds."""

    @extend_schema(operation_id="reports_tax", parameters=PERIOD, responses=TaxReportOut)
    def get(self, request):
        data = PeriodIn(data=request.query_params)
        data.is_valid(raise_exception=True)
        period = data.validated_data["period"]
        rows = selectors.tax_report(
            user=request.user, period=period, store=self.store_of(request, data.validated_data)
        )
        if self.csv_wanted(request):
            return _csv("tax", TAX_FIELDS, ([r[f] for f in TAX_FIELDS] for r in rows))
        return Response(
            {
                "since": _text(period.since),
                "until": _text(period.until),
                "rows": TaxRowOut(rows, many=True).data,
            }
        )


class StockValueReportApi(_ReportApi):
    """Quantity on hand and its value at cost, per product and store."""

    @extend_schema(
        operation_id="reports_stock_value",
        parameters=[OpenApiParameter("store", str), FORMAT],
        responses=StockValueReportOut,
    )
    def get(self, request):
        data = StoreIn(data=request.query_params)
        data.is_valid(raise_exception=True)
        levels = selectors.stock_value_report(
            user=request.user, store=self.store_of(request, data.validated_data)
        )
        rows = [
            {
                "store": level.store_id,
                "store_name": level.store.name,
                "product": level.product_id,
                "sku": level.product.sku,
                "name": level.product.name,
                "quantity": level.quantity,
                "cost": level.product.cost,
                "value": level.value,
            }
            for level in levels
        ]
        if self.csv_wanted(request):
            return _csv("stock-value", STOCK_FIELDS, ([r[f] for f in STOCK_FIELDS] for r in rows))
        return Response(
            {
                "rows": StockRowOut(rows, many=True).data,
                "total_quantity": sum(r["quantity"] for r in rows),
                "total_value": str(sum((r["value"] for r in rows), selectors.ZERO)),
            }
        )
