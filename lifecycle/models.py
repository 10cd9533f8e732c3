"""Backups, restore drills and purge certificates: platform records that hold no customer data.

They name their tenant in a `subject_tenant_id` column, not `tenant_id`: they are records
about a tenant kept by the platform, not the tenant's own data, so they are neither backed up
nor captured by the change log; selectors filter them by the current tenant.
"""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant


def _subject_tenant(related_name: str):
    return models.ForeignKey(
        Tenant,
        on_delete=models.PROTECT,
        db_column="subject_tenant_id",
        related_name=related_name,
        editable=False,
    )


class Backup(models.Model):
    """One backup run of a tenant; published (status done) only after it was read back and checked."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        EXPIRED = "expired"

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled"
        MANUAL = "manual"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = _subject_tenant("backups")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    scheduled_for = models.DateField(null=True, blank=True, help_text="the night of a scheduled backup")
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent")
    attempts = models.PositiveSmallIntegerField(default=0)
    region = models.CharField(max_length=32)
    object_key = models.CharField(max_length=300, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    table_count = models.PositiveIntegerField(default=0)
    row_count = models.BigIntegerField(default=0)
    key_version = models.PositiveIntegerField(null=True, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "scheduled_for"],
                condition=models.Q(trigger="scheduled"),
                name="backup_one_scheduled_per_night",
            )
        ]
        indexes = [models.Index(fields=["tenant", "status", "-created_at"], name="backup_tenant_status_time")]

    def __str__(self):
        return f"backup {self.id} ({self.status})"


class RestoreDrill(models.Model):
    """A drill of the tenant's latest backup, compared with its manifest: nightly into a scratch
    tenant (`restore`), weekly from storage alone into a scratch database (`storage`)."""

    class Status(models.TextChoices):
        PASSED = "passed"
        FAILED = "failed"

    class Kind(models.TextChoices):
        RESTORE = "restore", _("restore (nightly)")
        STORAGE = "storage", _("from storage (weekly)")

    id = models.BigAutoField(primary_key=True)
    tenant = _subject_tenant("restore_drills")
    kind = models.CharField(
        _("drill kind"),
        max_length=16,
        choices=Kind.choices,
        default=Kind.RESTORE,
        help_text="restore: into a scratch tenant (nightly); storage: from storage alone into a scratch database (weekly)",
    )
    backup = models.ForeignKey(Backup, on_delete=models.SET_NULL, null=True, related_name="drills")
    status = models.CharField(max_length=16, choices=Status.choices)
    table_count = models.PositiveIntegerField(default=0)
    row_count = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0)
    detail = models.CharField(max_length=500, blank=True, help_text="why it failed; never data")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"restore drill {self.status}"


class PurgeCertificate(models.Model):
    """Proof that a tenant's data, backups and keys were destroyed: ids, counts and times only.

    A platform table (no tenant_id column, no tenant policy): it outlives the tenant's data.
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETE = "complete"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_tenant = models.UUIDField(unique=True)
    subject_slug = models.CharField(max_length=63)
    region = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    requested_by = models.CharField(max_length=200)
    rows_deleted = models.JSONField(default=dict, help_text="table -> rows deleted")
    objects_deleted = models.JSONField(default=dict, help_text="storage region -> objects deleted")
    data_keys_destroyed = models.PositiveIntegerField(default=0)
    key_ids = models.JSONField(
        default=list, help_text="the data keys destroyed: id, version and the key that wrapped them"
    )
    cleared = models.JSONField(default=dict, help_text="sessions, cache keys and temporary files removed")
    steps_done = models.JSONField(default=list, help_text="keys, rows, objects, redis, temp: in that order")
    runs = models.PositiveSmallIntegerField(default=0, help_text="more than one: it was resumed")
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"purge of {self.subject_slug} ({self.status})"


class CertificateClaim(models.Model):
    """The one way to fetch a purge certificate after the purge, when the tenant's users are gone.

    Issued when an owner confirms the termination (`termination_request`): a random token shown
    once, stored here only as its SHA-256. A platform table (no tenant_id): it outlives the
    tenant like the certificate, and holds nothing the certificate does not (the tenant's id).
    Written and read only through `kassa_certificate_claim_issue()` and
    `kassa_purge_certificate_claim()` (migration 0004): the application role has no grant on it.
    """

    id = models.BigAutoField(primary_key=True)
    subject_tenant = models.UUIDField(unique=True)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex")
    created_at = models.DateTimeField()

    def __str__(self):
        return f"certificate claim {self.pk}"
