"""The Inventory API: thin views that validate, call a service or selector, and answer."""

from datetime import datetime

import django_filters
from django.db import transaction
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import approvals
from accounts.api_permissions import Can, CanAny, IsSignedIn, ReadWrite
from accounts.permissions import (
    ADJUST_STOCK,
    CREATE_CUSTOMERS,
    MANAGE_CUSTOMERS,
    MANAGE_PRODUCTS,
    MANAGE_SETTINGS,
    MANAGE_SHIFTS,
    REFUND,
    REFUND_WITHOUT_RECEIPT,
    SELL,
    VIEW_CUSTOMERS,
    VIEW_PRODUCTS,
    VIEW_SALES,
)
from core.api import flatten as _flatten
from core.api import page_of, paginate
from core.conditional import if_match_check, with_etag
from core.pagination import TimeCursorPagination
from core.serializers import refuse_unknown_fields, refuse_unknown_parameters
from idempotency.decorator import (
    HEADER,
    Idempotency,
    fingerprint_of,
    idempotent,
    idempotent_by_hand,
    replayed,
    response_answer,
)
from inventory import delta, selectors
from inventory.errors import DiscountAboveLimit
from inventory.models import (
    Category,
    Customer,
    Product,
    ProductImport,
    Refund,
    Sale,
    SaleLine,
    Shift,
    ShiftReport,
    StockLevel,
    StockMovement,
    Supplier,
)
from inventory.serializers import (
    CashMovementIn,
    CashMovementOut,
    CategorySerializer,
    CustomerSerializer,
    ProductBulkIn,
    ProductBulkOut,
    ProductBulkRow,
    ProductImportOut,
    ProductSerializer,
    RefundIn,
    RefundOut,
    ReturnIn,
    SaleIn,
    SaleOut,
    ShiftCloseIn,
    ShiftIn,
    ShiftOut,
    ShiftReportOut,
    StockCountBulkIn,
    StockCountBulkOut,
    StockCountRow,
    StockLevelSerializer,
    StockLevelUpdateIn,
    StockMovementIn,
    StockMovementSerializer,
    StoreSerializer,
    SupplierSerializer,
)
from inventory.services import bulk, catalogue, customers, sales, shifts, stock
from tenants.models import Store

READS = ("GET", "HEAD", "OPTIONS")


class ServiceViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Plain CRUD (no delete) whose writes go through `create_service` and `update_service`.

    Object reads carry an `ETag`; a PATCH with `If-Match` is refused (412) when stale. Lists of
    synced models (`delta_sync`) take `updated_since` and a keyset `cursor` (inventory.delta);
    an unknown query parameter is a 400.

    Reads run outside a transaction: each of their SELECTs carries the tenant's set_config in
    its own query string (tenants.db.base), one round trip each and no BEGIN or COMMIT (a read
    needs no snapshot across its statements: under READ COMMITTED each takes its own anyway).
    Writes keep one transaction for the whole request, as ATOMIC_REQUESTS gives every view.
    """

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request, *args, **kwargs):
        if request.method in READS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if getattr(response, "exception", False):
                # An error answer changes nothing (core.api leaves a non-atomic view's transaction
                # alone: this one is the view's own).
                transaction.set_rollback(True)
            return response

    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_converter = "uuid"
    model: type
    delta_sync = True
    etag = True  # object reads carry an ETag, PATCH takes If-Match (core.schema documents both)
    list_parameters: tuple[str, ...] = ()  # query parameters read by `visible()` itself

    @property
    def list_schema_parameters(self):
        return delta.PARAMETERS if self.delta_sync else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no tenant, no rows
            return self.model.unscoped.none()
        return self.visible()

    def list_parameters_allowed(self) -> set[str]:
        allowed = {"page", "page_size", "format", *self.list_parameters}
        if self.delta_sync:
            allowed |= {"updated_since", "cursor"}
        if filters.OrderingFilter in self.filter_backends:
            allowed.add("ordering")
        backend = django_filters.rest_framework.DjangoFilterBackend
        if backend in self.filter_backends:
            filterset = backend().get_filterset_class(self, self.model.unscoped.none())
            if filterset is not None:
                allowed |= set(filterset.base_filters)
        return allowed

    def list(self, request, *args, **kwargs):
        refuse_unknown_parameters(request, self.list_parameters_allowed())
        if self.delta_sync and delta.requested(request):
            queryset = self.filter_queryset(self.get_queryset())
            return delta.paginate(request, queryset, self.get_serializer_class())
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        return with_etag(request, super().retrieve(request, *args, **kwargs))

    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        if "If-Match" in request.headers:
            # The row's lock until the request commits: no other write between compare and write.
            instance = type(instance).objects.select_for_update(of=("self",)).get(pk=instance.pk)
            if_match_check(request, self.get_serializer(instance).data)
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return with_etag(request, Response(self.get_serializer(serializer.instance).data))

    def perform_create(self, serializer):
        serializer.instance = type(self).create_service(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = type(self).update_service(
            serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)


class StoreViewSet(ServiceViewSet):
    model = Store
    serializer_class = StoreSerializer
    delta_sync = False
    # Everyone signed in reads the stores they work in (the queryset limits them).
    permission_classes = [
        ReadWrite(
            IsSignedIn,
            Can(MANAGE_SETTINGS),
            write_message=gettext_lazy("Managing stores needs the manage_settings permission."),
        )
    ]
    filter_backends = [filters.OrderingFilter]
    ordering_fields = ["name", "code", "created_at"]

    def visible(self):
        return selectors.stores_visible_to(user=self.request.user)

    @staticmethod
    def create_service(**kwargs):
        return catalogue.store_create(**kwargs)

    @staticmethod
    def update_service(store, **kwargs):
        return catalogue.store_update(store=store, **kwargs)


class ProductFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter()
    barcode = django_filters.CharFilter()
    active = django_filters.BooleanFilter()
    category = django_filters.UUIDFilter(field_name="category_id")
    external_id = django_filters.CharFilter()
    q = django_filters.CharFilter(method="search", help_text="name contains, or exact SKU or barcode")

    class Meta:
        model = Product
        fields = ["sku", "barcode", "active", "category", "external_id"]

    def search(self, queryset, name, value):
        return selectors.product_search(queryset=queryset, text=value)


class ProductViewSet(ServiceViewSet):
    model = Product
    serializer_class = ProductSerializer
    permission_classes = [ReadWrite(VIEW_PRODUCTS, MANAGE_PRODUCTS)]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, filters.OrderingFilter]
    filterset_class = ProductFilter
    ordering_fields = ["sku", "name", "price", "created_at", "updated_at"]
    ordering = ["sku"]

    def visible(self):
        return selectors.product_list()

    def get_object(self):
        return selectors.product_get(product_id=self.kwargs["pk"])

    @staticmethod
    def create_service(**kwargs):
        return catalogue.product_create(**kwargs)

    @staticmethod
    def update_service(product, **kwargs):
        return catalogue.product_update(product=product, **kwargs)


class CategoryViewSet(ServiceViewSet):
    model = Category
    serializer_class = CategorySerializer
    permission_classes = [ReadWrite(VIEW_PRODUCTS, MANAGE_PRODUCTS)]
    filter_backends = [filters.OrderingFilter]
    ordering_fields = ["name", "updated_at"]

    def visible(self):
        return Category.objects.all()

    @staticmethod
    def create_service(**kwargs):
        return catalogue.category_create(**kwargs)

    @staticmethod
    def update_service(category, **kwargs):
        return catalogue.category_update(category=category, **kwargs)


class SupplierViewSet(ServiceViewSet):
    model = Supplier
    serializer_class = SupplierSerializer
    permission_classes = [ReadWrite(VIEW_PRODUCTS, MANAGE_PRODUCTS)]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, filters.OrderingFilter]
    filterset_fields = ["name", "external_id"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def visible(self):
        return Supplier.objects.all()

    def get_object(self):
        return selectors.supplier_get(supplier_id=self.kwargs["pk"])

    @staticmethod
    def create_service(**kwargs):
        return catalogue.supplier_create(**kwargs)

    @staticmethod
    def update_service(supplier, **kwargs):
        return catalogue.supplier_update(supplier=supplier, **kwargs)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("email", str, description="exact e-mail address (found by its keyed hash)"),
            OpenApiParameter("phone", str, description="exact phone number (found by its keyed hash)"),
            OpenApiParameter("external_id", str, description="your own id of the customer"),
        ]
    )
)
class CustomerViewSet(ServiceViewSet):
    model = Customer
    serializer_class = CustomerSerializer
    permission_classes = [ReadWrite(VIEW_CUSTOMERS, MANAGE_CUSTOMERS, create=CREATE_CUSTOMERS)]
    filter_backends: list = []
    list_parameters = ("email", "phone", "external_id")

    def visible(self):
        found = Customer.objects.all()
        if self.action == "list":
            params = self.request.query_params
            found = selectors.customer_find(
                queryset=found, email=params.get("email", ""), phone=params.get("phone", "")
            )
            if params.get("external_id"):
                found = found.filter(external_id=params["external_id"])
        return found

    def get_object(self):
        return selectors.customer_get(customer_id=self.kwargs["pk"])

    @staticmethod
    def create_service(**kwargs):
        return customers.customer_create(
            **{k: v or "" for k, v in kwargs.items() if k != "actor"}, actor=kwargs["actor"]
        )

    @staticmethod
    def update_service(customer, **kwargs):
        return customers.customer_update(customer=customer, **kwargs)


class StockFilter(django_filters.FilterSet):
    store = django_filters.UUIDFilter(field_name="store_id")
    product = django_filters.UUIDFilter(field_name="product_id")
    sku = django_filters.CharFilter(field_name="product__sku")
    below_reorder_point = django_filters.BooleanFilter(method="below", help_text="quantity <= reorder point")

    class Meta:
        model = StockLevel
        fields = ["store", "product", "sku"]

    def below(self, queryset, name, value):
        from django.db.models import F

        match = {"quantity__lte": F("reorder_point")}
        return queryset.filter(**match) if value else queryset.exclude(**match)


class StockViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Stock levels of the stores the caller may see; change the reorder point and quantity with PATCH."""

    serializer_class = StockLevelSerializer
    permission_classes = [Can(VIEW_PRODUCTS)]
    filterset_class = StockFilter
    http_method_names = ["get", "patch", "head", "options"]
    lookup_value_converter = "uuid"
    delta_sync = True
    etag = True
    list_schema_parameters = delta.PARAMETERS

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return StockLevel.unscoped.none()
        return selectors.stock_levels_visible_to(user=self.request.user).order_by("store_id", "product__sku")

    def get_object(self):
        return selectors.stock_level_get(user=self.request.user, stock_level_id=self.kwargs["pk"])

    def list(self, request, *args, **kwargs):
        refuse_unknown_parameters(
            request, {"page", "page_size", "format", "updated_since", "cursor", *StockFilter.base_filters}
        )
        if delta.requested(request):
            return delta.paginate(request, self.filter_queryset(self.get_queryset()), StockLevelSerializer)
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        return with_etag(request, super().retrieve(request, *args, **kwargs))

    @extend_schema(request=StockLevelUpdateIn, responses=StockLevelSerializer)
    def partial_update(self, request, pk=None):
        level = self.get_object()
        if "If-Match" in request.headers:
            level = (
                StockLevel.objects.select_for_update(of=("self",)).select_related("product").get(pk=level.pk)
            )
            if_match_check(request, StockLevelSerializer(level).data)
        data = StockLevelUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        level = stock.stock_reorder_set(
            store=level.store, product=level.product, actor=request.user, **data.validated_data
        )
        level = selectors.stock_level_get(user=request.user, stock_level_id=level.pk)
        return with_etag(request, Response(StockLevelSerializer(level).data))


class MovementFilter(django_filters.FilterSet):
    store = django_filters.UUIDFilter(field_name="store_id")
    product = django_filters.UUIDFilter(field_name="product_id")
    kind = django_filters.ChoiceFilter(choices=StockMovement.Kind.choices)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    day = django_filters.DateFilter(method="local_day", help_text="a local day in each store's time zone")

    class Meta:
        model = StockMovement
        fields = ["store", "product", "kind"]

    def local_day(self, queryset, name, value):
        return selectors.in_local_day(queryset=queryset, day=value)


class StockMovementListCreateApi(APIView):
    """The stock ledger: list it, or receive, adjust, count or transfer stock."""

    # Posting needs only a signed-in user here: each service checks its permission in the store.
    permission_classes = [
        ReadWrite(
            Can(VIEW_SALES), IsSignedIn, read_message=gettext_lazy("You may not view the stock ledger.")
        )
    ]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = MovementFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return StockMovement.unscoped.none()
        return selectors.movements_visible_to(user=self.request.user)

    @extend_schema(
        responses=page_of(StockMovementSerializer, cursor=True),
        parameters=[
            OpenApiParameter("store", str),
            OpenApiParameter("product", str),
            OpenApiParameter("kind", str, enum=StockMovement.Kind.values),
            OpenApiParameter("since", str),
            OpenApiParameter("until", str),
            OpenApiParameter("day", str, description="YYYY-MM-DD: a local day in each store's time zone"),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request):
        movements = django_filters.rest_framework.DjangoFilterBackend().filter_queryset(
            request, self.get_queryset(), self
        )
        return paginate(request, self, movements, StockMovementSerializer, TimeCursorPagination)

    @extend_schema(request=StockMovementIn, responses={201: StockMovementSerializer})
    @idempotent
    def post(self, request):
        data = StockMovementIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        common = {"store": values["store"], "product": values["product"], "actor": request.user}
        kind = values["kind"]
        if kind == "receive":
            movement = stock.stock_receive(
                **common,
                quantity=values["quantity"],
                unit_cost=values.get("unit_cost"),
                supplier=values.get("supplier"),
                reason=values["reason"],
            )
        elif kind == "adjust":
            movement = stock.stock_adjust(**common, quantity=values["quantity"], reason=values["reason"])
        elif kind == "count":
            movement = stock.stock_count(**common, counted=values["quantity"], reason=values["reason"])
        else:
            movement, _into = stock.stock_transfer(
                from_store=values["store"],
                to_store=values["to_store"],
                product=values["product"],
                quantity=values["quantity"],
                actor=request.user,
                reason=values["reason"],
            )
        return Response(StockMovementSerializer(movement).data, status=status.HTTP_201_CREATED)


class SaleFilter(django_filters.FilterSet):
    store = django_filters.UUIDFilter(field_name="store_id")
    customer = django_filters.UUIDFilter(field_name="customer_id")
    status = django_filters.ChoiceFilter(choices=Sale.Status.choices)
    receipt_number = django_filters.NumberFilter()
    register = django_filters.CharFilter()
    shift = django_filters.UUIDFilter(field_name="shift_id")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    day = django_filters.DateFilter(method="local_day", help_text="a local day in each store's time zone")

    class Meta:
        model = Sale
        fields = ["store", "customer", "status", "receipt_number", "register", "shift"]

    def local_day(self, queryset, name, value):
        return selectors.in_local_day(queryset=queryset, day=value)


def _approval(request, values: dict, *, purpose: str, refusal_code: str):
    """The manager's approval named in the body, checked by the sign-in rules (None if none).

    Called before the operation's transaction: a failed attempt must count and stay recorded.
    """
    raw = values.get("approved_by")
    if not raw:
        return None
    return approvals.approval_check(
        request=request,
        username=raw["username"],
        password=raw["password"],
        otp=raw.get("otp") or None,
        purpose=purpose,
        channel="api",
        refusal_code=refusal_code,
    )


def _once(request) -> Idempotency:
    """The request's Idempotency-Key (views that check an approval before their transaction)."""
    return Idempotency(
        key=request.headers.get(HEADER),
        fingerprint=fingerprint_of(
            user=request.user.pk, method=request.method, path=request.path, body=request.data
        ),
    )


def _asks_approval(request) -> bool:
    """A body with a manager's credentials: a replay must find the stored answer before they are
    checked again (an approval is a sign-in attempt). Others look once, under the key's lock."""
    return isinstance(request.data, dict) and "approved_by" in request.data


def _run(guard: Idempotency, work):
    """`work()` once for the key, with its record in one transaction of its own."""
    # Inside a transaction of the view's own, no savepoint (an error ends that transaction).
    result = guard.run(
        work, answer=response_answer, savepoint=not transaction.get_connection().in_atomic_block
    )
    return replayed(result[1], result[2]) if isinstance(result, tuple) else result


class SaleListCreateApi(APIView):
    """List sales, or sell (discounts, a manager's approval, tenders, the register's shift).

    Not atomic as a whole: an approval's credentials are checked first (a failed attempt counts
    and is recorded even though the sale is refused), then the sale and its Idempotency-Key
    record commit together.
    """

    permission_classes = [
        ReadWrite(
            Can(VIEW_SALES),
            Can(SELL),
            read_message=gettext_lazy("You may not view sales."),
            write_message=gettext_lazy("You may not sell."),
        )
    ]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = SaleFilter

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request, *args, **kwargs):
        # A sale opens its own transaction (see post); reads run outside one, each SELECT with the
        # tenant's set_config in its query string (as ServiceViewSet's reads).
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Sale.unscoped.none()
        return selectors.sales_visible_to(user=self.request.user).prefetch_related(
            "lines", "payments", "taxes"
        )

    @extend_schema(
        operation_id="sales_list",
        responses=page_of(SaleOut, cursor=True),
        parameters=[
            OpenApiParameter("store", str),
            OpenApiParameter("customer", str),
            OpenApiParameter("status", str, enum=Sale.Status.values),
            OpenApiParameter("receipt_number", int),
            OpenApiParameter("register", str),
            OpenApiParameter("shift", str),
            OpenApiParameter("since", datetime, description="created at or after (ISO 8601)"),
            OpenApiParameter("until", datetime, description="created before (ISO 8601)"),
            OpenApiParameter("day", str, description="YYYY-MM-DD: a local day in each store's time zone"),
            *delta.PARAMETERS,
        ],
    )
    def get(self, request):
        refuse_unknown_parameters(
            request, {"page_size", "cursor", "updated_since", "format", *SaleFilter.base_filters}
        )
        found = django_filters.rest_framework.DjangoFilterBackend().filter_queryset(
            request, self.get_queryset(), self
        )
        if delta.requested(request):
            return delta.paginate(request, found, SaleOut)
        return paginate(request, self, found, SaleOut, TimeCursorPagination)

    @idempotent_by_hand
    @extend_schema(request=SaleIn, responses={201: SaleOut})
    def post(self, request):
        guard = _once(request)
        if not _asks_approval(request):
            # No credentials to check first: the body's lookups, the key's lock, the sale and its
            # record in one transaction (each lookup needs no transaction of its own).
            with transaction.atomic():
                return self._sell(request, guard, in_own_transaction=True)
        stored = guard.stored()
        if stored is not None:
            return replayed(*stored)
        return self._sell(request, guard, in_own_transaction=False)

    def _sell(self, request, guard, *, in_own_transaction: bool):
        data = SaleIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        approval = _approval(
            request, values, purpose=approvals.DISCOUNT, refusal_code=DiscountAboveLimit.code
        )
        lines, payments = sales.sale_inputs(lines=values["lines"], payments=values["payments"])

        def work():
            sale = sales.sale_create(
                store=values["store"],
                lines=lines,
                payments=payments,
                customer=values.get("customer"),
                discount=sales.discount_input(values.get("discount")),
                register=values.get("register", ""),
                approval=approval,
                actor=request.user,
                # In the view's own transaction an error ends it: no savepoint of its own.
                savepoint=not in_own_transaction,
            )
            # sale_create hands back the lines, payments and taxes it wrote (no read-back).
            return Response(SaleOut(sale).data, status=status.HTTP_201_CREATED)

        return _run(guard, work)


class SaleDetailApi(APIView):
    permission_classes = [Can(VIEW_SALES)]
    etag = True

    @extend_schema(responses=SaleOut)
    def get(self, request, sale_id):
        return with_etag(
            request, Response(SaleOut(selectors.sale_get(user=request.user, sale_id=sale_id)).data)
        )


class RefundFilter(django_filters.FilterSet):
    store = django_filters.UUIDFilter(field_name="store_id")
    sale = django_filters.UUIDFilter(field_name="sale_id")

    class Meta:
        model = Refund
        fields = ["store", "sale"]


class RefundListApi(APIView):
    """Refunds of the stores the caller may see, in delta order: `(updated_at, id)`, oldest first.

    A refund of an older sale also moves that sale's `updated_at`, so it shows in the sales delta too.
    """

    permission_classes = [Can(VIEW_SALES)]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = RefundFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Refund.unscoped.none()
        return selectors.refunds_visible_to(user=self.request.user).prefetch_related("lines")

    @extend_schema(
        operation_id="refunds_list",
        responses=page_of(RefundOut, cursor=True),
        parameters=[
            OpenApiParameter("store", str),
            OpenApiParameter("sale", str),
            OpenApiParameter("page_size", int),
            *delta.PARAMETERS,
        ],
    )
    def get(self, request):
        refuse_unknown_parameters(
            request, {"page_size", "cursor", "updated_since", "format", *RefundFilter.base_filters}
        )
        found = django_filters.rest_framework.DjangoFilterBackend().filter_queryset(
            request, self.get_queryset(), self
        )
        return delta.paginate(request, found, RefundOut)


class SaleRefundApi(APIView):
    """Refund a sale, whole (no `lines`) or in part; the goods go back to stock unless `restock`
    is false; `payments` say how the money went back. A cashier without the refund permission
    refunds once with `approved_by` (a manager who holds it)."""

    permission_classes = [CanAny(REFUND, SELL)]

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    @idempotent_by_hand
    @extend_schema(request=RefundIn, responses={201: RefundOut})
    def post(self, request, sale_id):
        # Any of the tenant's sales; the service answers 403 for a store the caller may not refund in.
        sale = selectors.sale_get(user=request.user, sale_id=sale_id, permission=None)
        guard = _once(request)
        stored = guard.stored() if _asks_approval(request) else None
        if stored is not None:
            return replayed(*stored)
        data = RefundIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        lines = None
        if values.get("lines"):
            sale_lines = {line.pk: line for line in SaleLine.objects.filter(sale=sale)}
            unknown = [str(item["line"]) for item in values["lines"] if item["line"] not in sale_lines]
            if unknown:
                raise ValidationError(
                    {
                        "lines": [
                            gettext("Not a line of this sale: %(lines)s.") % {"lines": ", ".join(unknown)}
                        ]
                    }
                )
            lines = [
                sales.RefundLineInput(sale_line=sale_lines[item["line"]], quantity=item["quantity"])
                for item in values["lines"]
            ]
        approval = _approval(request, values, purpose=approvals.REFUND, refusal_code="permission_denied")

        def work():
            refund = sales.sale_refund(
                sale=sale,
                lines=lines,
                reason=values["reason"],
                restock=values["restock"],
                payments=sales.payment_inputs(values["payments"]) if values.get("payments") else None,
                register=values.get("register", ""),
                approval=approval,
                actor=request.user,
            )
            return Response(RefundOut(refund).data, status=status.HTTP_201_CREATED)

        return _run(guard, work)


class ReturnCreateApi(APIView):
    """Take goods back without a receipt (refund_without_receipt, or a manager's `approved_by`)."""

    permission_classes = [CanAny(REFUND_WITHOUT_RECEIPT, SELL)]

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    @idempotent_by_hand
    @extend_schema(request=ReturnIn, responses={201: RefundOut})
    def post(self, request):
        guard = _once(request)
        stored = guard.stored() if _asks_approval(request) else None
        if stored is not None:
            return replayed(*stored)
        data = ReturnIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        approval = _approval(request, values, purpose=approvals.RETURN, refusal_code="permission_denied")

        def work():
            refund = sales.return_create(
                store=values["store"],
                lines=[
                    sales.ReturnLineInput(product=i["product"], quantity=i["quantity"])
                    for i in values["lines"]
                ],
                reason=values["reason"],
                payments=sales.payment_inputs(values["payments"]),
                register=values.get("register", ""),
                restock=values["restock"],
                approval=approval,
                actor=request.user,
            )
            return Response(RefundOut(refund).data, status=status.HTTP_201_CREATED)

        return _run(guard, work)


class ShiftFilter(django_filters.FilterSet):
    store = django_filters.UUIDFilter(field_name="store_id")
    status = django_filters.ChoiceFilter(choices=Shift.Status.choices)
    register = django_filters.CharFilter()

    class Meta:
        model = Shift
        fields = ["store", "status", "register"]


class ShiftListCreateApi(APIView):
    """Register shifts: list them, or open one with the float in the drawer."""

    permission_classes = [
        ReadWrite(
            CanAny(MANAGE_SHIFTS, VIEW_SALES),
            Can(MANAGE_SHIFTS),
            read_message=gettext_lazy("You may not view shifts."),
            write_message=gettext_lazy("You may not open shifts."),
        )
    ]
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = ShiftFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Shift.unscoped.none()
        return selectors.shifts_visible_to(user=self.request.user).order_by("-opened_at", "-id")

    @extend_schema(
        operation_id="shifts_list",
        responses=page_of(ShiftOut),
        parameters=[
            OpenApiParameter("store", str),
            OpenApiParameter("status", str, enum=Shift.Status.values),
            OpenApiParameter("register", str),
        ],
    )
    def get(self, request):
        found = django_filters.rest_framework.DjangoFilterBackend().filter_queryset(
            request, self.get_queryset(), self
        )
        return paginate(request, self, found, ShiftOut)

    @extend_schema(request=ShiftIn, responses={201: ShiftOut})
    @idempotent
    def post(self, request):
        data = ShiftIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        shift = shifts.shift_open(
            store=values["store"],
            register=values["register"],
            opening_float=values["opening_float"],
            actor=request.user,
        )
        return Response(ShiftOut(shift).data, status=status.HTTP_201_CREATED)


class ShiftDetailApi(APIView):
    permission_classes = [CanAny(MANAGE_SHIFTS, VIEW_SALES)]

    @extend_schema(responses=ShiftOut)
    def get(self, request, shift_id):
        return Response(ShiftOut(selectors.shift_get(user=request.user, shift_id=shift_id)).data)


class ShiftCashApi(APIView):
    """Pay cash into the drawer or out of it, with a reason."""

    permission_classes = [Can(MANAGE_SHIFTS)]

    @extend_schema(request=CashMovementIn, responses={201: CashMovementOut})
    @idempotent
    def post(self, request, shift_id):
        shift = selectors.shift_get(user=request.user, shift_id=shift_id, any_store=True)
        data = CashMovementIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        move = shifts.shift_cash_move(
            shift=shift,
            kind=values["kind"],
            amount=values["amount"],
            reason=values["reason"],
            actor=request.user,
        )
        return Response(CashMovementOut(move).data, status=status.HTTP_201_CREATED)


class ShiftCloseApi(APIView):
    """Close the shift with the cash counted: the Z report, stored for good."""

    permission_classes = [Can(MANAGE_SHIFTS)]

    @extend_schema(request=ShiftCloseIn, responses={201: ShiftReportOut})
    @idempotent
    def post(self, request, shift_id):
        shift = selectors.shift_get(user=request.user, shift_id=shift_id, any_store=True)
        data = ShiftCloseIn(data=request.data)
        data.is_valid(raise_exception=True)
        report = shifts.shift_close(
            shift=shift, counted_cash=data.validated_data["counted_cash"], actor=request.user
        )
        return Response(report.data, status=status.HTTP_201_CREATED)


class ShiftReportApi(APIView):
    """The X report of an open shift (its figures so far); of a closed shift, its stored Z report."""

    permission_classes = [CanAny(MANAGE_SHIFTS, VIEW_SALES)]

    @extend_schema(responses=ShiftReportOut)
    def get(self, request, shift_id):
        shift = selectors.shift_get(user=request.user, shift_id=shift_id)
        if shift.status == Shift.Status.CLOSED:
            return Response(ShiftReport.objects.get(shift=shift).data)
        return Response(selectors.shift_figures(shift=shift))


def _bulk_rows(request, key: str, row_serializer, extra: frozenset = frozenset()) -> tuple[list, list, dict]:
    """The rows of a bulk body, each checked alone: (validated values or None, field errors, the rest).

    The envelope itself (an object with 1 to 1,000 rows under `key`) is a 400 when wrong.
    """
    body = request.data
    if not isinstance(body, dict):
        raise ValidationError({"non_field_errors": [gettext("Expected an object.")]})
    refuse_unknown_fields(body, {key, *extra})
    rows = body.get(key)
    if not isinstance(rows, list) or not rows:
        raise ValidationError({key: [gettext("A list of 1 to 1000 rows.")]})
    if len(rows) > bulk.MAX_ROWS:
        raise ValidationError(
            {key: [gettext("At most %(n)d rows a request; send the rest in another.") % {"n": bulk.MAX_ROWS}]}
        )
    values, errors = [], []
    checker = row_serializer()  # one instance for every row: its fields are built once
    for row in rows:
        try:
            values.append(checker.run_validation(row))
            errors.append(None)
        except ValidationError as invalid:
            values.append(None)
            errors.append(_flatten(invalid.detail))
    return values, errors, {name: body[name] for name in extra if name in body}


class ProductBulkApi(APIView):
    """Create or update up to 1,000 products by sku (or external_id); one result per row."""

    permission_classes = [Can(MANAGE_PRODUCTS)]

    @extend_schema(operation_id="products_bulk_upsert", request=ProductBulkIn, responses=ProductBulkOut)
    @idempotent
    def post(self, request):
        values, errors, _ = _bulk_rows(request, "products", ProductBulkRow)
        results = bulk.products_upsert(actor=request.user, rows=values)
        for index, problems in enumerate(errors):
            if problems is not None:
                raw = request.data["products"][index]
                raw = raw if isinstance(raw, dict) else {}
                results[index] = {
                    "sku": _text_or_none(raw.get("sku")),
                    "status": "invalid",
                    "fields": problems,
                }
        return Response({"results": results})


class StockCountBulkApi(APIView):
    """Record up to 1,000 physical counts: each brings a store's stock of a product to the count."""

    permission_classes = [Can(ADJUST_STOCK)]

    @extend_schema(
        operation_id="stock_counts_bulk_record", request=StockCountBulkIn, responses=StockCountBulkOut
    )
    @idempotent
    def post(self, request):
        values, errors, extra = _bulk_rows(request, "counts", StockCountRow, frozenset({"reason"}))
        reason = extra.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 200 or "\x00" in reason:
            raise ValidationError({"reason": [gettext("Text of at most 200 characters.")]})
        results = bulk.stock_counts_record(actor=request.user, rows=values, reason=reason)
        for index, problems in enumerate(errors):
            if problems is not None:
                raw = request.data["counts"][index]
                raw = raw if isinstance(raw, dict) else {}
                results[index] = {
                    "store": _text_or_none(raw.get("store")),
                    "product": _text_or_none(raw.get("product")),
                    "sku": _text_or_none(raw.get("sku")),
                    "status": "invalid",
                    "fields": problems,
                }
        return Response({"results": results})


def _text_or_none(value) -> str | None:
    """A value of an invalid row, echoed only when it is printable text that fits a sku or an id."""
    return value if isinstance(value, str) and len(value) <= 64 and value.isprintable() else None


class ProductImportDetailApi(APIView):
    """A CSV product import started in the admin: status, progress (percent) and refused rows."""

    permission_classes = [Can(MANAGE_PRODUCTS)]

    @extend_schema(responses=ProductImportOut)
    def get(self, request, import_id):
        job = ProductImport.objects.filter(pk=import_id).first()
        if job is None:
            raise NotFound()
        return Response(ProductImportOut(job).data)
