from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_permissions import Can
from accounts.permissions import EXPORT, MANAGE_SETTINGS
from core.throttling import BackupRequestThrottle
from idempotency.decorator import idempotent
from lifecycle import selectors
from lifecycle.serializers import BackupOut, RestoreDrillOut
from lifecycle.services.backups import backup_request
from lifecycle.services.purge import termination_request, termination_status

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
    export_reminder = serializers.CharField()


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

    @extend_schema(request=TerminationIn, responses={202: TerminationOut})
    @idempotent
    def post(self, request):
        data = TerminationIn(data=request.data)
        data.is_valid(raise_exception=True)
        answer = termination_request(
            tenant=request.tenant, actor=request.user, confirm=data.validated_data["confirm"]
        )
        return Response(TerminationOut(answer).data, status=202)
