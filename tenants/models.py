import uuid

from django.db import models

from tenants.context import NoTenantSelected, current_tenant_id
from tenants.timezones import DEFAULT_TIME_ZONE, validate_time_zone


class Tenant(models.Model):
    """A retail chain. A platform table: it holds no customer data."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"
        TERMINATED = "terminated"
        PURGED = "purged"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    region = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    subscription_ends_at = models.DateTimeField(null=True, blank=True)
    # How the chain writes numbers in its files (CSV imports): "fi" 1 234,50, "en" 1,234.50.
    locale = models.CharField(max_length=8, choices=[("fi", "Suomi"), ("en", "English")], default="fi")
    time_zone = models.CharField(
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        db_default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text="IANA name; the chain's day (new stores start with it)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug


class Domain(models.Model):
    """A host name that serves one tenant (`<slug>.<base domain>` or a custom domain)."""

    host = models.CharField(max_length=253, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="domains")
    is_primary = models.BooleanField(default=True)

    class Meta:
        ordering = ["host"]

    def __str__(self):
        return self.host


class TenantScopedManager(models.Manager):
    """The default manager of tenant-owned models: the current tenant's rows, or an error."""

    def get_queryset(self):
        tenant_id = current_tenant_id()
        if tenant_id is None:
            raise NoTenantSelected(f"{self.model.__name__} is tenant-owned and no tenant is selected")
        return super().get_queryset().filter(tenant_id=tenant_id)


class TenantOwnedModel(models.Model):
    """Base of every tenant-owned model. Its table must get row-level security (tenants.rls)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, editable=False, related_name="+")

    objects = TenantScopedManager()
    # Crosses tenants in the ORM only; PostgreSQL still shows just the current tenant's rows.
    unscoped = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"

    def save(self, *args, **kwargs):
        tenant_id = current_tenant_id()
        if self.tenant_id is None:
            if tenant_id is None:
                raise NoTenantSelected(f"cannot save a {type(self).__name__} with no tenant selected")
            self.tenant_id = tenant_id
        elif tenant_id is not None and self.tenant_id != tenant_id:
            raise NoTenantSelected(f"cannot save another tenant's {type(self).__name__}")
        super().save(*args, **kwargs)


class TenantKey(TenantOwnedModel):
    """A tenant's data key, stored only wrapped by the master key. Destroying it shreds the data."""

    version = models.PositiveIntegerField()
    kek_id = models.CharField(max_length=64)
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "version"], name="tenantkey_tenant_version")]

    def __str__(self):
        return f"data key v{self.version}"


class Store(TenantOwnedModel):
    """A shop of the chain. Staff may be limited to some stores (accounts.RoleAssignment)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=32, blank=True)
    address = models.TextField(blank=True)
    allow_negative_stock = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    time_zone = models.CharField(
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        db_default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text="IANA name: receipts, shifts, reports and 'today' use the store's local time",
    )
    business_id = models.CharField(
        max_length=32, blank=True, default="", db_default="", help_text="printed on receipts (Y-tunnus)"
    )
    receipt_auto_print = models.BooleanField(
        default=False, db_default=False, help_text="print the receipt when a sale is made"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "code"], condition=~models.Q(code=""), name="store_tenant_code"
            )
        ]

    def __str__(self):
        return self.name
