"""Document numbers: 1, 2, 3 ... per chain and kind, without gaps."""

from __future__ import annotations

from backoffice.models import DocumentCounter
from tenants.context import require_tenant_id


def number_next(kind: str) -> int:
    """The next number of `kind` in the current tenant; the counter row stays locked until commit."""
    DocumentCounter.objects.bulk_create(
        [DocumentCounter(tenant_id=require_tenant_id(), kind=kind)], ignore_conflicts=True
    )
    counter = DocumentCounter.objects.select_for_update().get(kind=kind)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number
