import time
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_otp.models import Device, DeviceManager, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from tenants.context import current_tenant_id
from tenants.fields import EncryptedTextField, PlatformEncryptedTextField
from tenants.models import Tenant, TenantOwnedModel, TenantScopedManager


class UserManager(BaseUserManager):
    """The current tenant's users; with no tenant selected, platform staff only."""

    def get_queryset(self):
        tenant_id = current_tenant_id()
        queryset = super().get_queryset()
        if tenant_id is None:
            return queryset.filter(tenant__isnull=True)
        return queryset.filter(tenant_id=tenant_id)

    def get_by_natural_key(self, username):
        return self.get(username__iexact=username)

    def create_user(self, username, password=None, **extra_fields):
        from accounts.usernames import username_normalize

        user = self.model(
            username=username_normalize(username), tenant_id=current_tenant_id(), **extra_fields
        )
        user.set_password(password)
        user.password_changed_at = timezone.now()
        user.save()
        return user

    def create_superuser(self, username, password=None, **extra_fields):
        """Create platform staff (`manage.py createsuperuser`): no tenant, no tenant data."""
        if current_tenant_id() is not None:
            raise ValueError("platform staff belong to no tenant")
        return self.create_user(username, password, is_platform_staff=True, **extra_fields)


class User(AbstractBaseUser):
    """A person or service account of one tenant, or platform staff (no tenant)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    username = models.CharField(max_length=150)
    full_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    is_platform_staff = models.BooleanField(default=False)
    # A service account (set at creation, never changed): no password and no interactive sign-in;
    # it acts only through integrator keys, which only service users may hold.
    is_service = models.BooleanField(default=False)
    must_change_password = models.BooleanField(default=False)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    # A user whose role requires MFA may sign in without it until this time, to enrol.
    mfa_grace_until = models.DateTimeField(null=True, blank=True)
    # The web pages' language; empty: the browser's (Accept-Language).
    language = models.CharField(max_length=8, blank=True, choices=[("en", "English"), ("fi", "Suomi")])
    date_joined = models.DateTimeField(default=timezone.now)
    # When an administrator last turned the user back on: the dormancy clock starts again.
    reactivated_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()
    unscoped = models.Manager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        base_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("username"), name="user_tenant_username_ci", nulls_distinct=False
            )
        ]

    def __str__(self):
        return self.username

    @property
    def is_staff(self) -> bool:
        return self.is_platform_staff

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_active and self.is_platform_staff

    def has_module_perms(self, app_label) -> bool:
        return self.is_active and self.is_platform_staff


def _letters_and_digits() -> list[str]:
    return ["letter", "digit"]


class Role(TenantOwnedModel):
    """A named set of permissions from the catalogue, with the sign-in policy for its holders."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    builtin = models.CharField(max_length=32, blank=True, help_text="key of a built-in role; blank if custom")
    permissions = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    password_min_length = models.PositiveIntegerField(default=12)
    password_require_classes = ArrayField(
        models.CharField(max_length=16), default=_letters_and_digits, blank=True
    )
    password_history = models.PositiveIntegerField(default=4)
    password_max_age_days = models.PositiveIntegerField(null=True, blank=True)
    lockout_threshold = models.PositiveIntegerField(default=10)
    lockout_cooloff_seconds = models.PositiveIntegerField(default=1800)
    mfa_required = models.BooleanField(default=False)
    session_idle_seconds = models.PositiveIntegerField(default=900)
    session_lifetime_seconds = models.PositiveIntegerField(default=43200)
    token_idle_seconds = models.PositiveIntegerField(default=900)
    token_lifetime_seconds = models.PositiveIntegerField(default=43200)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="role_tenant_name_ci"),
            models.UniqueConstraint(
                fields=["tenant", "builtin"], condition=~models.Q(builtin=""), name="role_tenant_builtin"
            ),
        ]

    def __str__(self):
        return self.name


class RoleAssignment(TenantOwnedModel):
    """A user holds a role in one store, or in every store when `store` is empty."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    store = models.ForeignKey(
        "tenants.Store", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "role", "store"], name="assignment_unique", nulls_distinct=False
            )
        ]


class PasswordHistory(TenantOwnedModel):
    """Earlier password hashes of a user, so the policy can refuse their reuse."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    password = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "user", "-created_at"], name="pwhistory_user")]


class SupportGrant(TenantOwnedModel):
    """A tenant administrator lets one platform staff member in, for a reason, until a time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    staff_username = models.CharField(max_length=150)
    reason = models.TextField()
    permissions = ArrayField(models.CharField(max_length=64), default=list)
    granted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"support for {self.staff_username} until {self.expires_at:%Y-%m-%d %H:%M}"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class ApiToken(TenantOwnedModel):
    """A bearer token: shown once, stored as a SHA-256 hash, bound to one user and tenant."""

    class Kind(models.TextChoices):
        USER = "user"
        INTEGRATOR = "integrator"
        SUPPORT = "support"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.USER)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    allowed_ips = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    password_change_only = models.BooleanField(default=False)
    # Issued by a sign-in that checked a second factor (TOTP or backup code); keys never are.
    second_factor = models.BooleanField(default=False)
    support_grant = models.ForeignKey(SupportGrant, on_delete=models.CASCADE, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    idle_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A rotated key keeps working until its (shortened) expiry; the chain's owners were warned
    # of an expiry at `expiry_warned_at` (accounts.keys).
    rotated_at = models.DateTimeField(null=True, blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "token_hash"], name="apitoken_tenant_hash")]
        indexes = [models.Index(fields=["tenant", "user"], name="apitoken_user")]

    def __str__(self):
        return f"{self.kind} token {self.prefix}…"


class IntegratorKey(ApiToken):
    """The admin's view of integrator keys (kind `integrator`): listed and revoked, never shown."""

    class Meta:
        proxy = True
        verbose_name = "integrator key"


class UserSession(TenantOwnedModel):
    """A browser session, known by a hash of its key, so it can be listed and revoked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key_hash"], name="usersession_tenant_key")]


class TotpVerification:
    """TOTP checking shared by tenant and platform devices: 30 s, 6 digits, one step of
    tolerance, each code once (no replay), throttled after failures."""

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        verified = False
        if str(token).isdigit() and len(str(token)) == self.digits:
            totp = TOTP(bytes.fromhex(self.secret), self.step, 0, self.digits, self.drift)
            totp.time = time.time()
            verified = totp.verify(int(token), self.tolerance, self.last_t + 1)
            if verified:
                self.last_t = totp.t()
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    def get_throttle_factor(self):
        return 1


class TenantDeviceManager(TenantScopedManager, DeviceManager):
    pass


class TotpDevice(TotpVerification, TenantOwnedModel, TimestampMixin, ThrottlingMixin, Device):
    """A TOTP authenticator; its secret is encrypted with the tenant's data key."""

    secret = EncryptedTextField()
    step = models.PositiveSmallIntegerField(default=30)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    objects = TenantDeviceManager()

    class Meta(TenantOwnedModel.Meta):
        pass


class PlatformTotpDevice(TotpVerification, TimestampMixin, ThrottlingMixin, Device):
    """A platform staff member's TOTP authenticator (a platform table: no tenant). Staff have no
    tenant data key, so the secret is encrypted for the platform (`PlatformEncryptedTextField`:
    a data key of its own, wrapped by the master key)."""

    secret = PlatformEncryptedTextField()
    step = models.PositiveSmallIntegerField(default=30)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)


class BackupCode(TenantOwnedModel):
    """A single-use recovery code, stored hashed."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "user"], name="backupcode_user")]
