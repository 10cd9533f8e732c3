"""Serializer pieces every API shares."""

import copy

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


class PrefetchedRelatedField(TenantRelatedField):
    """A TenantRelatedField that first looks in rows its root serializer read for all its items
    at once (`context["prefetched"][model]`, keyed by the id as text); an id not found there is
    looked up, and refused, exactly as by TenantRelatedField."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            found = self.root.context.get("prefetched", {}).get(self.model, {}).get(data)
            if found is not None:
                return found
        return super().to_internal_value(data)


def printable(name, limit: int = 100) -> str:
    """A client's name (of a field, a parameter) safe to echo: control characters escaped, capped."""
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in str(name))
    return text[:limit]


def refuse_unknown_fields(data, known) -> None:
    unknown = sorted(printable(name) for name in set(data) - set(known))
    if unknown:
        raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})


# A body naming a field the serializer does not know is a 400 that names it. Read-only fields
# count as known (a client may send back what it read); they are ignored. (Comments, not
# docstrings: the schema takes a serializer's docstring, or its bases', as the description.)
class StrictFieldsMixin:
    def to_internal_value(self, data):
        from collections.abc import Mapping

        if isinstance(data, Mapping):
            refuse_unknown_fields(data, self.fields)
        return super().to_internal_value(data)


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


# A ModelSerializer builds its fields from the model for every instance (~0.3 ms a product, most
# of a detail's serializing): built once per class here, and copied per instance as DRF copies
# declared fields. The fields built hold no request state (managers and validators, read lazily).
class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built
        return copy.deepcopy(built)


def refuse_unknown_parameters(request, allowed) -> None:
    """A query parameter the list does not take is a 400 that names it (a typo is not ignored)."""
    unknown = sorted(printable(name) for name in set(request.query_params) - set(allowed))
    if unknown:
        raise serializers.ValidationError({name: ["Unknown query parameter."] for name in unknown})
