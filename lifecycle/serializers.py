from rest_framework import serializers

from lifecycle.models import Backup, RestoreDrill


class BackupOut(serializers.ModelSerializer):
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


class RestoreDrillOut(serializers.ModelSerializer):
    class Meta:
        model = RestoreDrill
        fields = ["id", "backup", "status", "table_count", "row_count", "seconds", "detail", "created_at"]
