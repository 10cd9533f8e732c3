"""The back-office API: thin views that validate, call a service or selector, and answer."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_permissions import Can, CanAny, ReadWrite
from accounts.permissions import (
    ADJUST_STOCK,
    COUNT_STOCK,
    MANAGE_PURCHASING,
    RECEIVE_STOCK,
    TRANSFER_STOCK,
    VIEW_PRODUCTS,
)
from backoffice import selectors
from backoffice.models import PurchaseOrder, Stocktake, Transfer
from backoffice.serializers import (
    CountsIn,
    CountsOut,
    FinishIn,
    PurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseOrderReceiveIn,
    PurchaseOrderUpdateIn,
    ReorderIn,
    ReorderListOut,
    ReorderOut,
    StocktakeIn,
    StocktakeLineOut,
    StocktakeOut,
    StocktakeSummaryOut,
    TransferIn,
    TransferOut,
    TransferReceiveIn,
)
from backoffice.services import purchasing, reorder, stocktakes, transfers
from core.api import page_of, paginate
from idempotency.decorator import idempotent
from inventory import selectors as inventory_selectors

PURCHASE_READ = CanAny(*selectors.PURCHASE_READERS)
STOCKTAKE_READ = CanAny(*selectors.STOCKTAKE_READERS)
TRANSFER_READ = CanAny(*selectors.TRANSFER_READERS)


def _filtered(request, view, queryset):
    return django_filters.rest_framework.DjangoFilterBackend().filter_queryset(request, queryset, view)


def _order_lines(values) -> list[purchasing.OrderLineInput]:
    return [
        purchasing.OrderLineInput(
            product=line["product"], quantity=line["quantity"], unit_cost=line.get("unit_cost")
        )
        for line in values
    ]


# --- purchase orders --------------------------------------------------------------------------


class PurchaseOrderFilter(django_filters.FilterSet):
    store = django_filters.UUIDFilter(field_name="store_id")
    supplier = django_filters.UUIDFilter(field_name="supplier_id")
    status = django_filters.ChoiceFilter(choices=PurchaseOrder.Status.choices)

    class Meta:
        model = PurchaseOrder
        fields = ["store", "supplier", "status"]


def _order_out(order) -> dict:
    order = PurchaseOrder.objects.prefetch_related("lines__product").get(pk=order.pk)
    return PurchaseOrderOut(order).data


class PurchaseOrderListCreateApi(APIView):
    """Purchase orders of the caller's stores; create a draft (`manage_purchasing` in the store)."""

    permission_classes = [
        ReadWrite(
            PURCHASE_READ,
            Can(MANAGE_PURCHASING),
            read_message=gettext_lazy("You may not view purchase orders."),
            write_message=gettext_lazy("You may not manage purchase orders."),
        )
    ]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = PurchaseOrderFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PurchaseOrder.unscoped.none()
        return selectors.purchase_orders_visible_to(user=self.request.user).prefetch_related("lines__product")

    @extend_schema(
        operation_id="purchase_orders_list",
        responses=page_of(PurchaseOrderOut),
        parameters=[
            OpenApiParameter("store", str),
            OpenApiParameter("supplier", str),
            OpenApiParameter("status", str, enum=PurchaseOrder.Status.values),
        ],
    )
    def get(self, request):
        return paginate(request, self, _filtered(request, self, self.get_queryset()), PurchaseOrderOut)

    @extend_schema(request=PurchaseOrderIn, responses={201: PurchaseOrderOut})
    @idempotent
    def post(self, request):
        data = PurchaseOrderIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        order = purchasing.purchase_order_create(
            supplier=values["supplier"],
            store=values["store"],
            lines=_order_lines(values["lines"]),
            notes=values["notes"],
            expected_on=values["expected_on"],
            actor=request.user,
        )
        return Response(_order_out(order), status=status.HTTP_201_CREATED)


class PurchaseOrderDetailApi(APIView):
    """One purchase order; PATCH changes a draft (its lines are replaced when given)."""

    permission_classes = [
        ReadWrite(
            PURCHASE_READ,
            Can(MANAGE_PURCHASING),
            write_message=gettext_lazy("You may not manage purchase orders."),
        )
    ]

    @extend_schema(responses=PurchaseOrderOut)
    def get(self, request, order_id):
        return Response(_order_out(selectors.purchase_order_get(user=request.user, order_id=order_id)))

    @extend_schema(request=PurchaseOrderUpdateIn, responses=PurchaseOrderOut)
    def patch(self, request, order_id):
        order = selectors.purchase_order_get(user=request.user, order_id=order_id)
        data = PurchaseOrderUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "lines" in values:
            values["lines"] = _order_lines(values["lines"])
        order = purchasing.purchase_order_update(order=order, actor=request.user, **values)
        return Response(_order_out(order))


class PurchaseOrderOrderApi(APIView):
    """Send a draft to the supplier: `ordered`."""

    permission_classes = [Can(MANAGE_PURCHASING)]

    @extend_schema(request=None, responses=PurchaseOrderOut)
    @idempotent
    def post(self, request, order_id):
        order = selectors.purchase_order_get(user=request.user, order_id=order_id)
        return Response(_order_out(purchasing.purchase_order_order(order=order, actor=request.user)))


class PurchaseOrderCancelApi(APIView):
    """Cancel an open order; what was received stays received."""

    permission_classes = [Can(MANAGE_PURCHASING)]

    @extend_schema(request=None, responses=PurchaseOrderOut)
    @idempotent
    def post(self, request, order_id):
        order = selectors.purchase_order_get(user=request.user, order_id=order_id)
        return Response(_order_out(purchasing.purchase_order_cancel(order=order, actor=request.user)))


class PurchaseOrderReceiveApi(APIView):
    """Receive a delivery: `receive` movements at each line's cost; over-receiving is a 400."""

    permission_classes = [Can(RECEIVE_STOCK)]

    @extend_schema(request=PurchaseOrderReceiveIn, responses={201: PurchaseOrderOut})
    @idempotent
    def post(self, request, order_id):
        order = selectors.purchase_order_get(user=request.user, order_id=order_id)
        data = PurchaseOrderReceiveIn(data=request.data)
        data.is_valid(raise_exception=True)
        lines = {line.pk: line for line in order.lines.all()}
        unknown = [str(item["line"]) for item in data.validated_data["lines"] if item["line"] not in lines]
        if unknown:
            raise ValidationError(
                {"lines": [gettext("Not a line of this order: %(lines)s.") % {"lines": ", ".join(unknown)}]}
            )
        purchasing.purchase_order_receive(
            order=order,
            lines=[
                purchasing.ReceiveLineInput(line=lines[item["line"]], quantity=item["quantity"])
                for item in data.validated_data["lines"]
            ],
            note=data.validated_data["note"],
            actor=request.user,
        )
        return Response(_order_out(order), status=status.HTTP_201_CREATED)


# --- stocktakes -------------------------------------------------------------------------------


class StocktakeFilter(django_filters.FilterSet):
    store = django_filters.UUIDFilter(field_name="store_id")
    status = django_filters.ChoiceFilter(choices=Stocktake.Status.choices)

    class Meta:
        model = Stocktake
        fields = ["store", "status"]


class StocktakeListCreateApi(APIView):
    """Stocktakes of the caller's stores (without their lines); start one (`adjust_stock` in the store)."""

    permission_classes = [
        ReadWrite(
            STOCKTAKE_READ,
            Can(ADJUST_STOCK),
            read_message=gettext_lazy("You may not view stocktakes."),
            write_message=gettext_lazy("You may not start a stocktake."),
        )
    ]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = StocktakeFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Stocktake.unscoped.none()
        return selectors.stocktakes_visible_to(user=self.request.user)

    @extend_schema(
        operation_id="stocktakes_list",
        responses=page_of(StocktakeSummaryOut),
        parameters=[
            OpenApiParameter("store", str),
            OpenApiParameter("status", str, enum=Stocktake.Status.values),
        ],
    )
    def get(self, request):
        return paginate(request, self, _filtered(request, self, self.get_queryset()), StocktakeSummaryOut)

    @extend_schema(request=StocktakeIn, responses={201: StocktakeOut})
    @idempotent
    def post(self, request):
        data = StocktakeIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        stocktake = stocktakes.stocktake_start(
            store=values["store"],
            products=values.get("products"),
            category=values.get("category"),
            note=values["note"],
            actor=request.user,
        )
        return Response(StocktakeOut(stocktake).data, status=status.HTTP_201_CREATED)


class StocktakeDetailApi(APIView):
    """A stocktake with its lines; once finished, its variance report."""

    permission_classes = [STOCKTAKE_READ]

    @extend_schema(responses=StocktakeOut)
    def get(self, request, stocktake_id):
        return Response(
            StocktakeOut(selectors.stocktake_get(user=request.user, stocktake_id=stocktake_id)).data
        )


class StocktakeCountsApi(APIView):
    """Enter counts (repeatable; several staff at once; the last count of a product wins)."""

    permission_classes = [Can(COUNT_STOCK)]

    @extend_schema(request=CountsIn, responses=CountsOut)
    @idempotent
    def post(self, request, stocktake_id):
        stocktake = selectors.stocktake_get(user=request.user, stocktake_id=stocktake_id)
        data = CountsIn(data=request.data)
        data.is_valid(raise_exception=True)
        lines = stocktakes.stocktake_count(
            stocktake=stocktake,
            counts=[
                stocktakes.CountInput(product=item["product"], counted=item["counted"])
                for item in data.validated_data["counts"]
            ],
            actor=request.user,
        )
        return Response({"lines": StocktakeLineOut(lines, many=True).data})


class StocktakeFinishApi(APIView):
    """Write one `count` movement per difference; answers the variance report."""

    permission_classes = [Can(ADJUST_STOCK)]

    @extend_schema(request=FinishIn, responses=StocktakeOut)
    @idempotent
    def post(self, request, stocktake_id):
        stocktake = selectors.stocktake_get(user=request.user, stocktake_id=stocktake_id)
        data = FinishIn(data=request.data)
        data.is_valid(raise_exception=True)
        stocktake = stocktakes.stocktake_finish(
            stocktake=stocktake, uncounted=data.validated_data["uncounted"], actor=request.user
        )
        return Response(StocktakeOut(stocktake).data)


class StocktakeCancelApi(APIView):
    """Stop a stocktake without changing stock."""

    permission_classes = [Can(ADJUST_STOCK)]

    @extend_schema(request=None, responses=StocktakeSummaryOut)
    @idempotent
    def post(self, request, stocktake_id):
        stocktake = selectors.stocktake_get(user=request.user, stocktake_id=stocktake_id)
        return Response(
            StocktakeSummaryOut(stocktakes.stocktake_cancel(stocktake=stocktake, actor=request.user)).data
        )


# --- transfers --------------------------------------------------------------------------------


class TransferFilter(django_filters.FilterSet):
    from_store = django_filters.UUIDFilter(field_name="from_store_id")
    to_store = django_filters.UUIDFilter(field_name="to_store_id")
    status = django_filters.ChoiceFilter(choices=Transfer.Status.choices)

    class Meta:
        model = Transfer
        fields = ["from_store", "to_store", "status"]


def _transfer_out(transfer) -> dict:
    return TransferOut(Transfer.objects.prefetch_related("lines__product").get(pk=transfer.pk)).data


class TransferListCreateApi(APIView):
    """Transfers from or to the caller's stores; send one (`transfer_stock` in the source store)."""

    permission_classes = [
        ReadWrite(
            TRANSFER_READ,
            Can(TRANSFER_STOCK),
            read_message=gettext_lazy("You may not view transfers."),
            write_message=gettext_lazy("You may not transfer stock."),
        )
    ]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = TransferFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Transfer.unscoped.none()
        return selectors.transfers_visible_to(user=self.request.user).prefetch_related("lines__product")

    @extend_schema(
        operation_id="transfers_list",
        responses=page_of(TransferOut),
        parameters=[
            OpenApiParameter("from_store", str),
            OpenApiParameter("to_store", str),
            OpenApiParameter("status", str, enum=Transfer.Status.values),
        ],
    )
    def get(self, request):
        return paginate(request, self, _filtered(request, self, self.get_queryset()), TransferOut)

    @extend_schema(request=TransferIn, responses={201: TransferOut})
    @idempotent
    def post(self, request):
        data = TransferIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        transfer = transfers.transfer_send(
            from_store=values["from_store"],
            to_store=values["to_store"],
            lines=[
                transfers.TransferLineInput(product=item["product"], quantity=item["quantity"])
                for item in values["lines"]
            ],
            note=values["note"],
            actor=request.user,
        )
        return Response(_transfer_out(transfer), status=status.HTTP_201_CREATED)


class TransferDetailApi(APIView):
    permission_classes = [TRANSFER_READ]

    @extend_schema(responses=TransferOut)
    def get(self, request, transfer_id):
        return Response(_transfer_out(selectors.transfer_get(user=request.user, transfer_id=transfer_id)))


class TransferReceiveApi(APIView):
    """Take the transfer in at its destination (`receive_stock` there), once."""

    permission_classes = [Can(RECEIVE_STOCK)]

    @extend_schema(request=TransferReceiveIn, responses=TransferOut)
    @idempotent
    def post(self, request, transfer_id):
        transfer = selectors.transfer_get(user=request.user, transfer_id=transfer_id)
        data = TransferReceiveIn(data=request.data)
        data.is_valid(raise_exception=True)
        lines = {line.pk: line for line in transfer.lines.all()}
        given = data.validated_data.get("lines")
        unknown = [str(item["line"]) for item in given or () if item["line"] not in lines]
        if unknown:
            raise ValidationError(
                {
                    "lines": [
                        gettext("Not a line of this transfer: %(lines)s.") % {"lines": ", ".join(unknown)}
                    ]
                }
            )
        transfer = transfers.transfer_receive(
            transfer=transfer,
            arrivals=[
                transfers.ArrivalInput(line=lines[item["line"]], quantity=item["quantity"]) for item in given
            ]
            if given
            else None,
            note=data.validated_data["note"],
            actor=request.user,
        )
        return Response(_transfer_out(transfer))


# --- reorder ----------------------------------------------------------------------------------


class ReorderApi(APIView):
    """The reorder list of a store (GET `?store=`), and draft purchase orders from it in one step (POST)."""

    permission_classes = [
        ReadWrite(
            VIEW_PRODUCTS,
            MANAGE_PURCHASING,
            write_message=gettext_lazy("You may not manage purchase orders."),
        )
    ]

    @extend_schema(
        operation_id="reorder_list",
        parameters=[
            OpenApiParameter("store", str, required=True),
            OpenApiParameter("supplier", str, description="one supplier's products only"),
        ],
        responses=ReorderListOut,
    )
    def get(self, request):
        if not request.query_params.get("store"):
            raise ValidationError({"store": [gettext("Name the store.")]})
        store = inventory_selectors.store_get(store_id=request.query_params["store"])
        supplier = None
        if request.query_params.get("supplier"):
            supplier = inventory_selectors.supplier_get(supplier_id=request.query_params["supplier"])
        groups = selectors.reorder_list(user=request.user, store=store, supplier=supplier)
        return Response(ReorderListOut({"store": store.pk, "results": groups}).data)

    @extend_schema(request=ReorderIn, responses={201: ReorderOut})
    @idempotent
    def post(self, request):
        data = ReorderIn(data=request.data)
        data.is_valid(raise_exception=True)
        orders = reorder.reorder_orders_create(
            store=data.validated_data["store"],
            suppliers=data.validated_data.get("suppliers"),
            actor=request.user,
        )
        found = PurchaseOrder.objects.filter(pk__in=[o.pk for o in orders]).prefetch_related("lines__product")
        return Response(
            {"purchase_orders": PurchaseOrderOut(found, many=True).data}, status=status.HTTP_201_CREATED
        )
