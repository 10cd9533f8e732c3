import uuid

from django.conf import settings
from django.db import models

from tenants.models import TenantOwnedModel


class Export(TenantOwnedModel):
    """A requested export: a job row claimed by one worker, then an encrypted ZIP in storage."""

    class Kind(models.TextChoices):
        FULL = "full"
        PRODUCTS = "products"
        STOCK = "stock"
        SALES = "sales"
        CUSTOMERS = "customers"
        AUDIT = "audit"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    attempts = models.PositiveIntegerField(default=0)
    object_key = models.CharField(max_length=300, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    manifest = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="last sign of life of the running worker"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    last_downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "requested_by", "created_at"], name="export_tenant_requester"),
            models.Index(fields=["tenant", "status", "expires_at"], name="export_tenant_expiry"),
        ]

    def __str__(self):
        return f"{self.kind} export {str(self.pk)[:8]} ({self.status})"


class CustomerRequest(TenantOwnedModel):
    """A data-subject request carried out: one customer's data exported, or the customer erased."""

    class Kind(models.TextChoices):
        EXPORT = "export"
        ERASE = "erase"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    customer_id = models.UUIDField(help_text="the customer (kept after erasure: the row stays, anonymised)")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    detail = models.JSONField(default=dict, help_text="counts only, never personal data")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "customer_id"], name="customerrequest_customer")]

    def __str__(self):
        return f"{self.kind} of customer {str(self.customer_id)[:8]}"


class CustomerErasure(TenantOwnedModel):
    """A customer's erasure, asked for by a request and run by the privileged worker.

    The web answers 202 with this row; `exports.customer_erasure_run_task` (privileged queue,
    the maintenance role) claims it and runs `exports.customers.customer_erase`. At most one
    erasure of a customer is queued or running at a time (the constraint below); a repeated
    request answers the one that is active, or the last one done.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField(help_text="the customer (the row stays, anonymised)")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, help_text="why (a request number, not personal data)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent")
    attempts = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True, help_text="entries rewritten per table; never data")
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the worker")
    finished_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "customer_id"],
                condition=models.Q(status__in=["queued", "running"]),
                name="customererasure_one_active",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "customer_id", "-created_at"], name="customererasure_customer")
        ]

    def __str__(self):
        return f"erasure of customer {str(self.customer_id)[:8]} ({self.status})"


class ErasureLedgerEntry(models.Model):
    """A customer's erasure as the platform remembers it, outside the tenant's backups.

    A platform table (no tenant_id, no tenant policy; the maintenance role's alone): a backup
    taken before the erasure still holds the customer, so every restore replays these entries
    before the restored tenant is visible (lifecycle.services.restore). Ids and times only: the
    customer's and the eraser's ids, never a name. A purge deletes them with the tenant (by
    their foreign key, tenants.catalogue.purge_coverage).
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        db_column="subject_tenant_id",
        related_name="+",
        editable=False,
    )
    customer_id = models.UUIDField()
    erased_at = models.DateTimeField()
    erased_by = models.UUIDField(null=True, help_text="the erasing user's id")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer_id"], name="erasureledger_one_per_customer")
        ]

    def __str__(self):
        return f"erasure of customer {self.customer_id}"
