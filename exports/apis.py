from django.http import StreamingHttpResponse
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_permissions import Can
from accounts.permissions import ERASE_CUSTOMERS, EXPORT, MANAGE_CUSTOMERS
from core.api import page_of, paginate
from exports import customers, selectors, services, streaming
from exports.catalogue import KIND_TABLES, KINDS
from exports.errors import ExportExpired, ExportNotReady
from exports.models import CustomerErasure, Export
from idempotency.decorator import idempotent


class ExportOut(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "created_at",
            "finished_at",
            "expires_at",
            "row_count",
            "size_bytes",
            "download_url",
            "error",
        ]

    def get_download_url(self, export) -> str | None:
        if export.status != Export.Status.DONE or services.export_is_expired(export):
            return None
        request = self.context.get("request")
        path = f"/api/v1/exports/{export.pk}/download/"
        return request.build_absolute_uri(path) if request is not None else path

    def to_representation(self, export):
        data = super().to_representation(export)
        for optional in ("download_url", "expires_at", "finished_at", "row_count", "size_bytes", "error"):
            if data.get(optional) in (None, ""):
                data.pop(optional)
        return data


class ExportListCreateApi(APIView):
    """GET: the caller's exports. POST: start an export (`full` or one entity kind) → 202."""

    permission_classes = [Can(EXPORT)]

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=KINDS)

    @extend_schema(operation_id="exports_list", responses={200: page_of(ExportOut)})
    def get(self, request):
        return paginate(request, self, selectors.export_list(user=request.user), ExportOut)

    @extend_schema(
        request=InputSerializer,
        responses={
            202: inline_serializer(
                "ExportStarted", {"id": serializers.UUIDField(), "status": serializers.CharField()}
            )
        },
    )
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export = services.export_create(actor=request.user, kind=data.validated_data["kind"])
        body = {"id": str(export.pk), "status": export.status}
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/api/v1/exports/{export.pk}/"}
        )


class ExportDetailApi(APIView):
    """The export's status and progress; `download_url` and `expires_at` once it is done."""

    permission_classes = [Can(EXPORT)]

    @extend_schema(responses={200: ExportOut})
    def get(self, request, export_id):
        export = selectors.export_get(user=request.user, export_id=export_id)
        return Response(ExportOut(export, context={"request": request}).data)


class ExportDownloadApi(APIView):
    """The export's ZIP, decrypted as it streams; the requester only, until it expires."""

    permission_classes = [Can(EXPORT)]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, export_id):
        export = selectors.export_get(user=request.user, export_id=export_id)
        services.export_kind_check(actor=request.user, kind=export.kind)  # a permission lost since
        if services.export_is_expired(export):
            raise ExportExpired()
        if export.status != Export.Status.DONE:
            raise ExportNotReady(export.status)
        chunks = services.export_open(tenant=request.tenant, export=export)
        response = StreamingHttpResponse(chunks, content_type="application/zip")
        name = f"kassa-{request.tenant.slug}-{export.kind}-{export.created_at:%Y%m%d-%H%M%S}.zip"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response


class EntityCsvApi(APIView):
    """`GET /exports/<kind>.csv`: streamed now when small; otherwise an export job is started (202)."""

    permission_classes = [Can(EXPORT)]

    @extend_schema(responses={(200, "text/csv"): bytes, 202: ExportOut})
    def get(self, request, kind):
        if kind not in KIND_TABLES:
            raise NotFound(gettext("No such entity export."))
        from django.conf import settings

        services.export_kind_check(actor=request.user, kind=kind)
        entity = streaming.entity_for_kind(kind)
        if (
            streaming.entity_count(tenant=request.tenant, entity=entity)
            > settings.KASSA_EXPORT_STREAM_MAX_ROWS
        ):
            export = services.export_create(actor=request.user, kind=kind)
            body = {"id": str(export.pk), "status": export.status}
            return Response(
                body, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/api/v1/exports/{export.pk}/"}
            )
        response = StreamingHttpResponse(
            streaming.entity_csv(tenant=request.tenant, entity=entity), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{request.tenant.slug}-{kind}.csv"'
        response["Cache-Control"] = "no-store"
        return response


class CustomerExportApi(APIView):
    """Everything Kassa holds about one customer, as JSON (a data-subject access request)."""

    permission_classes = [Can(MANAGE_CUSTOMERS)]

    @extend_schema(responses={200: dict})
    def get(self, request, customer_id):
        customer = customers.customer_get(customer_id=customer_id)
        return Response(customers.customer_data_export(customer=customer, actor=request.user))


class CustomerErasureOut(serializers.ModelSerializer):
    customer = serializers.UUIDField(source="customer_id")

    class Meta:
        model = CustomerErasure
        fields = [
            "id",
            "customer",
            "status",
            "progress",
            "created_at",
            "started_at",
            "finished_at",
            "erased_at",
            "error",
        ]

    def to_representation(self, erasure):
        data = super().to_representation(erasure)
        for optional in ("started_at", "finished_at", "erased_at", "error"):
            if data.get(optional) in (None, ""):
                data.pop(optional)
        return data


class CustomerEraseIn(serializers.Serializer):
    reason = serializers.CharField(
        max_length=customers.REASON_LIMIT, help_text="why (a request number, not personal data)"
    )


class CustomerEraseApi(APIView):
    """Ask for the customer's erasure → 202 `{"id", "status"}`; the privileged worker runs it.

    Needs `erase_customers`, a sign-in with a second factor (403 `second_factor_required`) and a
    reason. Follow it at `GET /api/v1/customer-erasures/{id}/`. Asking again while it is queued or
    running, or once it is done, answers that erasure and starts nothing.
    """

    permission_classes = [Can(ERASE_CUSTOMERS)]

    @extend_schema(
        request=CustomerEraseIn,
        responses={
            202: inline_serializer(
                "CustomerErasureStarted", {"id": serializers.UUIDField(), "status": serializers.CharField()}
            )
        },
    )
    @idempotent
    def post(self, request, customer_id):
        customer = customers.customer_get(customer_id=customer_id)
        data = CustomerEraseIn(data=request.data)
        data.is_valid(raise_exception=True)
        erasure = customers.customer_erasure_request(
            customer=customer, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(
            {"id": str(erasure.pk), "status": erasure.status},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/customer-erasures/{erasure.pk}/"},
        )


class CustomerErasureDetailApi(APIView):
    """An erasure's status and progress (percent); `erased_at` once it is done."""

    permission_classes = [Can(ERASE_CUSTOMERS)]

    @extend_schema(responses={200: CustomerErasureOut})
    def get(self, request, erasure_id):
        return Response(CustomerErasureOut(customers.customer_erasure_get(erasure_id=erasure_id)).data)
