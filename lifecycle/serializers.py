from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lifecycle.models import Backup, RestoreDrill


class LastDrillOut(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=RestoreDrill.Kind.choices,
        help_text="restore: nightly, into a scratch tenant; storage: weekly, from storage alone into a scratch database",
    )
    status = serializers.CharField()
    detail = serializers.CharField()
    created_at = serializers.DateTimeField()


class BackupOut(serializers.ModelSerializer):
    age_seconds = serializers.SerializerMethodField(help_text="since the backup finished (or was asked for)")
    last_drill = serializers.SerializerMethodField(
        help_text="the latest restore drill of this backup, if any"
    )

    @extend_schema_field(serializers.IntegerField())
    def get_age_seconds(self, backup) -> int:
        return max(0, int((timezone.now() - (backup.finished_at or backup.created_at)).total_seconds()))

    @extend_schema_field(LastDrillOut(allow_null=True))
    def get_last_drill(self, backup):
        if not backup.pk or backup._state.adding:
            return None
        drills = list(backup.drills.all()[:1]) if hasattr(backup, "_prefetched_objects_cache") else []
        return LastDrillOut(drills[0]).data if drills else None

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
            "age_seconds",
            "last_drill",
        ]


class RestoreDrillOut(serializers.ModelSerializer):
    class Meta:
        model = RestoreDrill
        fields = [
            "id",
            "backup",
            "kind",
            "status",
            "table_count",
            "row_count",
            "seconds",
            "detail",
            "created_at",
        ]
