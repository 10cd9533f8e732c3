from django.db import models
from uuid6 import uuid7

from tenants.fields import EncryptedTextField
from tenants.models import TenantOwnedModel


class IdempotencyRecord(TenantOwnedModel):
    """The first successful answer to a POST with an `Idempotency-Key` (idempotency.decorator)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of user, method, path and body")
    response_status = models.PositiveSmallIntegerField()
    # The answer's JSON, encrypted with the tenant's key: it may hold a customer's contact data.
    response_body = EncryptedTextField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "kassa_idempotencyrecord"  # its name from before it had an app of its own
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_tenant_key")]
        indexes = [models.Index(fields=["tenant", "expires_at"], name="idempotency_tenant_expires")]
