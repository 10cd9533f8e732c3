import csv

from django.db import transaction
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_permissions import CanAny, IsSignedIn, ReadWrite
from accounts.permissions import MANAGE_SETTINGS, VIEW_CHAIN_LOGS
from accounts.selectors import log_scope
from auditlog import selectors, services
from auditlog.models import AccessEvent, ApiCall, AuditSettings, AuditVerification, ChangeEvent, SignInEvent
from core.api import page_of, paginate
from core.pagination import TimeCursorPagination
from core.replica import read_alias, reads_from_replica, replica_reads
from tenants.context import get_current_tenant, tenant_context

CSV_CHUNK = 2000


class CsvRenderer(BaseRenderer):
    """Lets `?format=csv` through content negotiation; the view streams the file itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet must not run a cell as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_stream(queryset, fields, tenant):
    writer = csv.writer(_Echo())
    yield writer.writerow(fields)
    # The body is produced after the view returned: select the tenant (and the replica) again.
    with tenant_context(tenant), replica_reads():
        queryset = queryset.using(read_alias() or "default")
    with tenant_context(tenant), transaction.atomic(using=queryset.db):
        for row in queryset.values_list(*fields).iterator(chunk_size=CSV_CHUNK):
            yield writer.writerow([_cell(value) for value in row])


class FiltersIn(serializers.Serializer):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    user = serializers.UUIDField(required=False)


class _AuditListApi(APIView):
    """One audit list: JSON pages (cursor pagination, newest first) or `?format=csv` streamed.

    Each list defines `select(reader, filters)`, the queryset it answers.
    """

    permission_classes = [IsSignedIn]
    renderer_classes = [JSONRenderer, CsvRenderer]
    filters_class = FiltersIn
    fields: list[str] = []
    name = ""

    @reads_from_replica
    def get(self, request):
        filters = self.filters_class(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = self.select(request.user, filters.validated_data)
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(
                _csv_stream(queryset.order_by("-created_at", "-id"), self.fields, get_current_tenant()),
                content_type="text/csv; charset=utf-8",
            )
            response["Content-Disposition"] = f'attachment; filename="audit-{self.name}.csv"'
            return response
        return paginate(request, self, queryset, self.OutputSerializer, TimeCursorPagination)


class AccessFiltersIn(FiltersIn):
    ip = serializers.IPAddressField(required=False)
    host = serializers.CharField(required=False, max_length=253)
    method = serializers.CharField(required=False, max_length=10)
    status = serializers.IntegerField(required=False, min_value=100, max_value=599)


class AccessListApi(_AuditListApi):
    name = "access"
    filters_class = AccessFiltersIn
    fields = [
        "id",
        "created_at",
        "request_id",
        "user_id",
        "token_id",
        "support_grant_id",
        "store_id",
        "ip",
        "host",
        "method",
        "path",
        "query",
        "status",
        "duration_ms",
        "user_agent",
    ]

    class AuditAccessSerializer(serializers.ModelSerializer):
        class Meta:
            model = AccessEvent
            exclude = ["tenant_id"]

    OutputSerializer = AuditAccessSerializer

    def select(self, reader, filters):
        return selectors.access_list(scope=log_scope(reader=reader), filters=filters)

    @extend_schema(parameters=[AccessFiltersIn], responses=page_of(AuditAccessSerializer, cursor=True))
    def get(self, request):
        return super().get(request)


class SignInFiltersIn(FiltersIn):
    username = serializers.CharField(required=False, max_length=150)
    outcome = serializers.ChoiceField(choices=SignInEvent.Outcome.choices, required=False)
    ip = serializers.IPAddressField(required=False)


class SignInListApi(_AuditListApi):
    name = "logins"
    filters_class = SignInFiltersIn
    fields = [
        "id",
        "created_at",
        "kind",
        "username",
        "user_id",
        "actor_id",
        "outcome",
        "reason",
        "channel",
        "ip",
        "host",
        "user_agent",
        "request_id",
    ]

    class AuditSignInSerializer(serializers.ModelSerializer):
        class Meta:
            model = SignInEvent
            exclude = ["tenant"]

    OutputSerializer = AuditSignInSerializer

    def select(self, reader, filters):
        return selectors.signin_list(scope=log_scope(reader=reader), filters=filters)

    @extend_schema(parameters=[SignInFiltersIn], responses=page_of(AuditSignInSerializer, cursor=True))
    def get(self, request):
        return super().get(request)


class ChangeFiltersIn(FiltersIn):
    model = serializers.CharField(required=False, max_length=100)
    object_id = serializers.CharField(required=False, max_length=64)


class ChangeListApi(_AuditListApi):
    name = "changes"
    filters_class = ChangeFiltersIn
    fields = [
        "id",
        "created_at",
        "model",
        "object_id",
        "operation",
        "before",
        "after",
        "user_id",
        "token_id",
        "support_grant_id",
        "request_id",
        "store_id",
    ]

    class AuditChangeSerializer(serializers.ModelSerializer):
        class Meta:
            model = ChangeEvent
            exclude = ["tenant", "database_user"]

    OutputSerializer = AuditChangeSerializer

    def select(self, reader, filters):
        return selectors.change_list(scope=log_scope(reader=reader), filters=filters)

    @extend_schema(parameters=[ChangeFiltersIn], responses=page_of(AuditChangeSerializer, cursor=True))
    def get(self, request):
        return super().get(request)


class ApiCallFiltersIn(FiltersIn):
    method = serializers.CharField(required=False, max_length=10)
    status = serializers.IntegerField(required=False, min_value=100, max_value=599)


class ApiCallListApi(_AuditListApi):
    name = "api-calls"
    filters_class = ApiCallFiltersIn
    fields = [
        "id",
        "created_at",
        "request_id",
        "user_id",
        "token_id",
        "store_id",
        "method",
        "path",
        "query",
        "request_headers",
        "request_body",
        "request_truncated",
        "status",
        "response_body",
        "response_truncated",
    ]

    class AuditApiCallSerializer(serializers.ModelSerializer):
        class Meta:
            model = ApiCall
            exclude = ["tenant_id"]

    OutputSerializer = AuditApiCallSerializer

    def select(self, reader, filters):
        return selectors.api_call_list(scope=log_scope(reader=reader), filters=filters)

    @extend_schema(parameters=[ApiCallFiltersIn], responses=page_of(AuditApiCallSerializer, cursor=True))
    def get(self, request):
        return super().get(request)


class AuditVerificationOut(serializers.ModelSerializer):
    class Meta:
        model = AuditVerification
        fields = ["created_at", "intact", "problems", "first_problem", "seals", "entries"]


class AuditSettingsOut(serializers.Serializer):
    retention_days = serializers.IntegerField()
    minimum_retention_days = serializers.IntegerField()
    last_verification = AuditVerificationOut(allow_null=True, help_text="the last daily verification")


class AuditSettingsIn(serializers.Serializer):
    retention_days = serializers.IntegerField(min_value=AuditSettings.MINIMUM_RETENTION_DAYS, max_value=3650)


class AuditSettingsApi(APIView):
    """The chain's audit settings: how long entries are kept, and the last daily verification."""

    permission_classes = [ReadWrite(CanAny(VIEW_CHAIN_LOGS, MANAGE_SETTINGS), MANAGE_SETTINGS)]

    def _answer(self, tenant):
        latest = services.audit_verification_latest(tenant=tenant)
        return Response(
            {
                "retention_days": services.audit_settings_get(tenant=tenant).retention_days,
                "minimum_retention_days": AuditSettings.MINIMUM_RETENTION_DAYS,
                "last_verification": AuditVerificationOut(latest).data if latest is not None else None,
            }
        )

    @extend_schema(operation_id="audit_settings_retrieve", responses=AuditSettingsOut)
    def get(self, request):
        return self._answer(get_current_tenant())

    @extend_schema(operation_id="audit_settings_update", request=AuditSettingsIn, responses=AuditSettingsOut)
    def patch(self, request):
        data = AuditSettingsIn(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = get_current_tenant()
        services.retention_days_set(tenant=tenant, days=data.validated_data["retention_days"])
        return self._answer(tenant)
