"""Webhooks: endpoints a tenant registers, the outbox of events, and the delivery log.

An `Event` and its `Delivery` rows are written by `integrations.events.events_emit` in the
transaction of the change they describe, so they exist exactly when the change committed. A
worker sends each endpoint's deliveries one at a time, in order (`Delivery.id`), and records
every attempt. Neither events nor deliveries are change-logged (auditlog.tracking): they are
the machinery; the endpoint's settings are.
"""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now
from uuid6 import uuid7

from tenants.fields import EncryptedTextField
from tenants.models import TenantOwnedModel

# What an endpoint may subscribe to (interface.md, second wave); `ping` is sent by the test action.
EVENT_KINDS = {
    "sale.created": "a sale was recorded",
    "sale.refunded": "a sale was refunded, in whole or in part",
    "stock.changed": "a store's stock of a product changed (any movement of the ledger)",
    "product.changed": "a product was created or changed (also deactivated)",
    "customer.changed": "a customer was created or changed (only ids: read the customer with the API)",
}
PING = "ping"


class WebhookEndpoint(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.CharField(max_length=2000)
    events = ArrayField(models.CharField(max_length=40))
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    # Shown once, at creation; encrypted with the tenant's data key, masked in the change log and
    # left out of exports (its column name is a secret's).
    secret = EncryptedTextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    failing_since = models.DateTimeField(null=True, blank=True, help_text="first failure of the current run")
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["tenant", "active"], name="webhook_tenant_active")]

    def __str__(self):
        return self.url


class Event(TenantOwnedModel):
    """Something that happened, as sent to the endpoints subscribed to its kind."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    kind = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="event_tenant_created")]

    def __str__(self):
        return f"{self.kind} {self.pk}"


class Delivery(TenantOwnedModel):
    """One event for one endpoint. `uid` is the `Kassa-Delivery` header: the same on every retry."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # given up: 24 hours of failures, or the endpoint was disabled

    id = models.BigAutoField(primary_key=True)  # the order of an endpoint's deliveries
    uid = models.UUIDField(default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "uid"], name="delivery_tenant_uid")]
        indexes = [
            models.Index(fields=["tenant", "endpoint", "status", "id"], name="delivery_endpoint_queue"),
            models.Index(fields=["tenant", "status", "next_attempt_at"], name="delivery_tenant_due"),
        ]

    def __str__(self):
        return f"delivery {self.uid} ({self.status})"


class DeliveryAttempt(TenantOwnedModel):
    """One POST to an endpoint: when, the answer's status code (none if no answer), how long."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    succeeded = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    duration_ms = models.FloatField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "endpoint", "-created_at"], name="attempt_endpoint_created")
        ]

    def __str__(self):
        return f"attempt {self.number} of {self.delivery_id}"
