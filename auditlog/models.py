"""The audit tables. All are append-only: the application role may INSERT and SELECT only, and
a trigger refuses UPDATE always and DELETE outside the retention purge (migration 0002).

Tables whose rows may belong to no tenant (platform host, anonymous requests) keep
`tenant_id` as a plain nullable column: their policy shows a row only when its tenant equals
the current one, NULL matching only "no tenant selected", so a tenant never sees another
tenant's rows nor the platform's.
"""

from django.db import models
from django.utils import timezone

from tenants.context import current_tenant_id
from tenants.models import TenantOwnedModel


class CurrentTenantManager(models.Manager):
    """Rows of the current tenant; with no tenant selected, the platform's rows (tenant NULL)."""

    def get_queryset(self):
        tenant_id = current_tenant_id()
        if tenant_id is None:
            return super().get_queryset().filter(tenant_id__isnull=True)
        return super().get_queryset().filter(tenant_id=tenant_id)


class AccessEvent(models.Model):
    """One request (web, admin, API; not static files), written after its response was built."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    tenant_id = models.UUIDField(null=True, blank=True)
    request_id = models.UUIDField()
    user_id = models.UUIDField(null=True, blank=True)
    token_id = models.UUIDField(null=True, blank=True)
    support_grant_id = models.UUIDField(null=True, blank=True)
    store_id = models.UUIDField(null=True, blank=True, help_text="the store the request named, if any")
    ip = models.GenericIPAddressField(null=True, blank=True)
    host = models.CharField(max_length=253)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    query = models.CharField(max_length=2000, blank=True)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    user_agent = models.CharField(max_length=300, blank=True)

    objects = CurrentTenantManager()
    unscoped = models.Manager()

    class Meta:
        db_table = "auditlog_access"
        base_manager_name = "unscoped"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant_id", "-created_at"], name="access_tenant_time"),
            models.Index(fields=["tenant_id", "user_id", "-created_at"], name="access_tenant_user_time"),
            models.Index(fields=["tenant_id", "store_id", "-created_at"], name="access_tenant_store_time"),
            models.Index(fields=["request_id"], name="access_request"),
        ]

    def __str__(self):
        return f"{self.method} {self.path} {self.status}"


class ApiCall(models.Model):
    """Request and response of one API call, size-capped, secrets redacted (auditlog.redact)."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    tenant_id = models.UUIDField(null=True, blank=True)
    request_id = models.UUIDField()
    user_id = models.UUIDField(null=True, blank=True)
    token_id = models.UUIDField(null=True, blank=True)
    store_id = models.UUIDField(null=True, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    query = models.CharField(max_length=2000, blank=True)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    request_truncated = models.BooleanField(default=False)
    status = models.PositiveSmallIntegerField()
    response_body = models.TextField(blank=True)
    response_truncated = models.BooleanField(default=False)

    objects = CurrentTenantManager()
    unscoped = models.Manager()

    class Meta:
        db_table = "auditlog_apicall"
        base_manager_name = "unscoped"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant_id", "-created_at"], name="apicall_tenant_time"),
            models.Index(fields=["tenant_id", "store_id", "-created_at"], name="apicall_tenant_store_time"),
            models.Index(fields=["request_id"], name="apicall_request"),
        ]

    def __str__(self):
        return f"{self.method} {self.path} {self.status}"


class SignInEvent(TenantOwnedModel):
    """A sign-in attempt (success or failure, with the reason), a sign-out, a lockout or an unlock."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in"
        SIGN_OUT = "sign_out"
        LOCKOUT = "lockout"
        UNLOCK = "unlock"
        MFA_RESET = "mfa_reset"  # an administrator removed the user's authenticators (accounts)
        REACTIVATE = "reactivate"  # an administrator turned a deactivated user back on
        # A manager's credentials checked at the register to approve what a cashier may not do.
        APPROVAL = "approval"

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"
        LOCKED_OUT = "locked_out"
        PENDING = "pending", "password ok, code pending"  # the first step of a two-factor sign-in

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SIGN_IN)
    username = models.CharField(max_length=150)
    user_id = models.UUIDField(null=True, blank=True)
    actor_id = models.UUIDField(null=True, blank=True, help_text="who unlocked, for unlock events")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=8)
    ip = models.GenericIPAddressField(null=True, blank=True)
    host = models.CharField(max_length=253, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="signin_tenant_time"),
            models.Index(fields=["tenant", "user_id", "-created_at"], name="signin_tenant_user_time"),
        ]


class ChangeEvent(TenantOwnedModel):
    """A create, update or delete of a tenant-owned row, written by the trigger of its table.

    `before`/`after` hold the whole row for a create or delete and the changed columns for an
    update; secret columns read "[masked]" (see auditlog.tracking).
    """

    class Operation(models.TextChoices):
        INSERT = "insert"
        UPDATE = "update"
        DELETE = "delete"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    model = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    operation = models.CharField(max_length=8, choices=Operation.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    user_id = models.UUIDField(null=True, blank=True)
    token_id = models.UUIDField(null=True, blank=True)
    support_grant_id = models.UUIDField(null=True, blank=True)
    request_id = models.UUIDField(null=True, blank=True)
    store_id = models.UUIDField(null=True, blank=True)
    database_user = models.CharField(max_length=63)

    class Meta:
        db_table = "auditlog_change"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="change_tenant_time"),
            models.Index(fields=["tenant", "model", "object_id", "-created_at"], name="change_tenant_object"),
            models.Index(fields=["tenant", "user_id", "-created_at"], name="change_tenant_user_time"),
            models.Index(fields=["tenant", "store_id", "-created_at"], name="change_tenant_store_time"),
        ]


class AuditSettings(TenantOwnedModel):
    """A tenant's audit settings: how long entries are kept (PCI 10.5.1: at least a year)."""

    MINIMUM_RETENTION_DAYS = 365
    DEFAULT_RETENTION_DAYS = 400

    retention_days = models.PositiveIntegerField(default=DEFAULT_RETENTION_DAYS)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="auditsettings_tenant"),
            models.CheckConstraint(
                condition=models.Q(retention_days__gte=365), name="auditsettings_retention_min"
            ),
        ]


class AuditVerification(TenantOwnedModel):
    """One run of the daily verification of a tenant's seal chain: what the chain's owners see.

    A failed run also alerts the operators (core.alerts); the platform chain's runs go to the
    platform log.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    intact = models.BooleanField()
    problems = models.PositiveIntegerField(default=0)
    first_problem = models.CharField(max_length=500, blank=True)
    seals = models.PositiveIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"], name="verification_tenant_time")]

    def __str__(self):
        return f"{'intact' if self.intact else 'BROKEN'} at {self.created_at:%Y-%m-%d %H:%M}"


class Seal(models.Model):
    """A batch of entries of one tenant (or of the platform, tenant NULL), chained by hash.

    hash = SHA-256(previous seal's hash | entries_hash | number | tenant), entries_hash =
    SHA-256 over the batch's SealedEntry digests in order.
    """

    id = models.BigAutoField(primary_key=True)
    tenant_id = models.UUIDField(null=True, blank=True)
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    sealed_through = models.DateTimeField(help_text="entries created before this time were all sealed")
    entry_count = models.PositiveIntegerField()
    previous_hash = models.CharField(max_length=64)
    entries_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # HMAC-SHA256 of "hash|number|chain" under a key outside the database (tenants.crypto.seal_mac).
    mac = models.CharField(max_length=64, blank=True)
    key_id = models.CharField(max_length=64, blank=True)

    objects = CurrentTenantManager()
    unscoped = models.Manager()

    class Meta:
        db_table = "auditlog_seal"
        base_manager_name = "unscoped"
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "number"], name="seal_tenant_number", nulls_distinct=False
            )
        ]

    def __str__(self):
        return f"seal {self.number}"


class SealedEntry(models.Model):
    """The digest of one entry's canonical form as it was when sealed."""

    id = models.BigAutoField(primary_key=True)
    tenant_id = models.UUIDField(null=True, blank=True)
    seal_id = models.BigIntegerField()
    kind = models.CharField(max_length=16)
    entry_id = models.BigIntegerField()
    entry_created_at = models.DateTimeField()
    digest = models.CharField(max_length=64)

    objects = CurrentTenantManager()
    unscoped = models.Manager()

    class Meta:
        db_table = "auditlog_sealedentry"
        base_manager_name = "unscoped"
        constraints = [models.UniqueConstraint(fields=["kind", "entry_id"], name="sealedentry_entry")]
        indexes = [models.Index(fields=["tenant_id", "seal_id"], name="sealedentry_tenant_seal")]

    def __str__(self):
        return f"{self.kind} {self.entry_id}"


class PlatformEvent(models.Model):
    """The platform's own log: tenant creation, support access, purges, key rotations.

    It holds no customer data: the tenant it concerns is named by id and slug only, never
    readable by a tenant (no tenant_id column, no tenant policy; the app role reads it on the
    platform only).
    """

    class Kind(models.TextChoices):
        TENANT_CREATED = "tenant_created"
        SUPPORT_ACCESS = "support_access"
        AUDIT_PURGED = "audit_purged"
        MASTER_KEY_ROTATED = "master_key_rotated"
        AUDIT_REDACTED = "audit_redacted"  # a customer's erasure rewrote entries (exports.customers)
        MFA_RESET = "mfa_reset"  # a tenant administrator reset a user's MFA (accounts.services)
        STAFF_SIGN_IN = "staff_sign_in"  # a platform staff sign-in attempt, any outcome (accounts.signin)
        AUDIT_VERIFIED = "audit_verified"  # the daily verification of a chain (detail: intact or not)
        TENANT_TERMINATED = "tenant_terminated"  # an owner ended the subscription (lifecycle)
        TENANT_RESTORED = "tenant_restored"  # a backup restored into its own tenant (lifecycle)
        AUDIT_ANCHORED = "audit_anchored"  # a chain's newest seal was published outside the database

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    subject_tenant = models.UUIDField(null=True, blank=True)
    subject_slug = models.CharField(max_length=63, blank=True)
    actor = models.CharField(max_length=200, blank=True, help_text="user id, staff username or 'system'")
    request_id = models.UUIDField(null=True, blank=True)
    detail = models.JSONField(default=dict)

    class Meta:
        db_table = "auditlog_platformevent"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at"], name="platformevent_time")]

    def __str__(self):
        return f"{self.kind} {self.subject_slug}"
