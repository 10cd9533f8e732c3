from django.http import Http404
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_permissions import Can
from accounts.permissions import EXPORT, MANAGE_SETTINGS
from core.api import error_body
from core.throttling import BackupRequestThrottle, CertificateClaimThrottle
from idempotency.decorator import idempotent
from lifecycle import selectors
from lifecycle.serializers import BackupOut, RestoreDrillOut
from lifecycle.services import claims
from lifecycle.services.backups import backup_request
from lifecycle.services.purge import purge_due_at, termination_request, termination_status

CanSeeBackups = Can(EXPORT) | Can(MANAGE_SETTINGS)


class BackupListCreateApi(ListAPIView):
    """GET: the chain's backups with status and progress. POST: ask for a backup now (202).

    The privileged worker records and runs it: the list shows it from then on, with its progress.
    """

    serializer_class = BackupOut
    permission_classes = [CanSeeBackups]

    def get_permissions(self):
        if self.request.method == "POST":
            return [Can(MANAGE_SETTINGS)()]
        return super().get_permissions()

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == "POST":  # a backup costs: a few an hour per chain
            throttles.append(BackupRequestThrottle())
        return throttles

    def get_queryset(self):
        return selectors.backup_list()

    @idempotent
    def post(self, request):
        backup = backup_request(tenant=request.tenant)
        return Response(BackupOut(backup).data, status=202)


class RestoreDrillListApi(ListAPIView):
    """The chain's restore drills: did its latest backup restore and match its manifest?"""

    serializer_class = RestoreDrillOut
    permission_classes = [CanSeeBackups]

    def get_queryset(self):
        return selectors.restore_drill_list()


class TerminationOut(serializers.Serializer):
    status = serializers.CharField(help_text="active, terminating (asked, not yet done), terminated")
    subscription_ends_at = serializers.DateTimeField(allow_null=True)
    purge_due_at = serializers.DateTimeField(allow_null=True)
    grace_days = serializers.IntegerField()
    certificate_claim_issued_at = serializers.DateTimeField(
        allow_null=True, help_text="when the purge certificate's claim token was issued (null: not yet)"
    )
    export_reminder = serializers.CharField()


class TerminationCreatedOut(TerminationOut):
    certificate_token = serializers.CharField(
        allow_null=True,
        help_text="the purge certificate's claim token, shown this once (null: it was issued before); "
        "GET /api/v1/purge-certificate/ on the platform host with it after the purge",
    )


class TerminationIn(serializers.Serializer):
    confirm = serializers.CharField(max_length=63, help_text="the chain's slug, typed to confirm")


class TerminationApi(APIView):
    """GET: the chain's end as its owners see it (status, grace period, purge date).
    POST `{"confirm": "<slug>"}`: an owner signed in with a second factor ends the subscription
    (202); the privileged worker terminates, the purge follows after the grace period."""

    permission_classes = [Can(MANAGE_SETTINGS)]

    @extend_schema(responses={200: TerminationOut})
    def get(self, request):
        return Response(TerminationOut(termination_status(tenant=request.tenant)).data)

    @extend_schema(request=TerminationIn, responses={202: TerminationCreatedOut})
    @idempotent(store_response=False)  # the answer holds the claim token: never stored for a replay
    def post(self, request):
        data = TerminationIn(data=request.data)
        data.is_valid(raise_exception=True)
        answer = termination_request(
            tenant=request.tenant, actor=request.user, confirm=data.validated_data["confirm"]
        )
        return Response(TerminationCreatedOut(answer).data, status=202)


class PurgeCertificateOut(serializers.Serializer):
    id = serializers.UUIDField()
    subject_tenant = serializers.UUIDField()
    subject_slug = serializers.CharField()
    region = serializers.CharField()
    status = serializers.CharField()
    requested_by = serializers.CharField()
    rows_deleted = serializers.DictField(child=serializers.IntegerField(), help_text="table -> rows")
    objects_deleted = serializers.DictField(child=serializers.IntegerField(), help_text="region -> objects")
    data_keys_destroyed = serializers.IntegerField()
    key_ids = serializers.ListField(child=serializers.DictField(), help_text="id, version, kek_id")
    cleared = serializers.DictField(child=serializers.IntegerField())
    steps_done = serializers.ListField(child=serializers.CharField())
    runs = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField()


class PurgeNotDoneOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField()
    purge_due_at = serializers.DateTimeField(allow_null=True)


class PurgeCertificateClaimApi(APIView):
    """The purge certificate, for whoever holds the claim token (platform host only).

    The token goes in the `Kassa-Certificate-Token` header (never in the URL, which is logged).
    Before the purge is complete: 409 `purge_not_done` with the purge date. A token that matches
    no claim, or any request on a tenant's host: 404. Limited per address
    (`KASSA_CERTIFICATE_CLAIM_RATE`); every attempt is in the platform's access log.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [CertificateClaimThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                claims.HEADER, str, OpenApiParameter.HEADER, required=True, description="the claim token"
            )
        ],
        responses={
            200: PurgeCertificateOut,
            409: OpenApiResponse(PurgeNotDoneOut, description="the purge is not complete yet"),
        },
    )
    def get(self, request):
        if request.tenant is not None:
            raise Http404("No such page on a tenant's host.")
        answer = claims.purge_certificate_claim(token=request.headers.get(claims.HEADER, ""))
        if answer is None:
            raise Http404("No such certificate.")
        certificate = answer["certificate"]
        if certificate is None:
            due = _purge_due(answer)
            body = error_body(
                "purge_not_done",
                gettext("The chain is not purged yet; its certificate exists once the purge is complete."),
                {},
            )
            return Response({**body, "purge_due_at": due}, status=409)
        return Response(PurgeCertificateOut(certificate).data)


def _purge_due(answer: dict):
    from django.utils.dateparse import parse_datetime

    from tenants.models import Tenant

    if answer["tenant_status"] != Tenant.Status.TERMINATED or not answer["subscription_ends_at"]:
        return None  # still active (the worker has not terminated it yet): no date yet
    ends = parse_datetime(answer["subscription_ends_at"])
    return serializers.DateTimeField().to_representation(purge_due_at(Tenant(subscription_ends_at=ends)))
