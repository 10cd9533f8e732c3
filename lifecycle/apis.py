from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from accounts.api_permissions import Can
from accounts.permissions import EXPORT, MANAGE_SETTINGS
from core.throttling import BackupRequestThrottle
from idempotency.decorator import idempotent
from lifecycle import selectors
from lifecycle.serializers import BackupOut, RestoreDrillOut
from lifecycle.services.backups import backup_request

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
