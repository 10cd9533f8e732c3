import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from tenants.context import current_tenant_id
from tenants.models import Tenant


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
        user = self.model(username=username, tenant_id=current_tenant_id(), **extra_fields)
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
    must_change_password = models.BooleanField(default=False)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)

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
