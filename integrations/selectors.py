"""Reads of webhooks and their delivery log, within the current tenant (NotFound alike otherwise)."""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from core.errors import NotFound
from integrations.models import Delivery, DeliveryAttempt, WebhookEndpoint


def webhook_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.all()


def webhook_get(*, webhook_id: UUID) -> WebhookEndpoint:
    try:
        found = WebhookEndpoint.objects.filter(pk=webhook_id).first()
    except (ValueError, ValidationError):
        found = None
    if found is None:
        raise NotFound()
    return found


def attempts_of(*, endpoint: WebhookEndpoint) -> QuerySet[DeliveryAttempt]:
    return DeliveryAttempt.objects.filter(endpoint=endpoint).select_related("delivery", "delivery__event")


def delivery_latest(*, endpoint: WebhookEndpoint) -> Delivery | None:
    return Delivery.objects.filter(endpoint=endpoint).order_by("-id").first()
