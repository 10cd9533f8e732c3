"""Serializer pieces every API shares."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.UUID)
class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id to a row of the current tenant: the model's tenant-scoped manager is
    read per request, so another tenant's id "does not exist" like a missing one."""

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.all()

    def use_pk_only_optimization(self):
        return True
