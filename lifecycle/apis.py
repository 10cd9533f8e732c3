from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from accounts.api_permissions import Can
from accounts.permissions import EXPORT, MANAGE_SETTINGS
from lifecycle import selectors, services
from lifecycle.models import Backup, RestoreDrill
from lifecycle.tasks import backup_enqueue

CanSeeBackups = Can(EXPORT) | Can(MANAGE_SETTINGS)


class BackupListCreateApi(ListAPIView):
    """GET: the chain's backups with status and progress. POST: start a backup now."""

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Backup
            fields = [
                "id",
                "status",
                "trigger",
                "progress",
                "table_count",
                "row_count",
                "size_bytes",
                "key_version",
                "region",
                "created_at",
                "finished_at",
            ]

    serializer_class = OutputSerializer
    permission_classes = [CanSeeBackups]

    def get_permissions(self):
        if self.request.method == "POST":
            return [Can(MANAGE_SETTINGS)()]
        return super().get_permissions()

    def get_queryset(self):
        return selectors.backup_list()

    def post(self, request):
        backup = services.backup_create(tenant=request.tenant)
        backup_enqueue(backup)
        return Response(self.OutputSerializer(backup).data, status=202)


class RestoreDrillListApi(ListAPIView):
    """The chain's restore drills: did its latest backup restore and match its manifest?"""

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = RestoreDrill
            fields = ["id", "backup", "status", "table_count", "row_count", "seconds", "detail", "created_at"]

    serializer_class = OutputSerializer
    permission_classes = [CanSeeBackups]

    def get_queryset(self):
        return selectors.restore_drill_list()
