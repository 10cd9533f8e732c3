"""OpenAPI schema helpers for tenant-owned models."""

import uuid

from drf_spectacular.contrib.django_filters import DjangoFilterExtension

from tenants.context import tenant_context
from tenants.models import Tenant


class TenantDjangoFilterExtension(DjangoFilterExtension):
    """django-filter parameters for views over tenant-owned models.

    Schema generation asks the model's default manager for `.none()`; that manager refuses to
    work with no tenant selected, so describe the filters under a placeholder tenant (no query runs).
    """

    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        with tenant_context(Tenant(id=uuid.UUID(int=0), slug="schema")):
            return super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
