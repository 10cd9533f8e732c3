"""Webhook endpoints: register, change, ping. Deliveries are sent by integrations.delivery."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext

from accounts import authz
from accounts.permissions import MANAGE_WEBHOOKS
from integrations import net
from integrations.errors import EndpointInactive
from integrations.events import events_emit
from integrations.models import EVENT_KINDS, PING, WebhookEndpoint

MAX_ENDPOINTS = 20
SECRET_PREFIX = "whsec_"  # noqa: S105  # nosec B105 - marks a signing secret, is none


def _require(actor) -> None:
    if actor is not None and not authz.can(actor, MANAGE_WEBHOOKS):
        raise PermissionDenied(gettext("You may not manage webhooks."))


def _clean_url(url: str) -> str:
    try:
        net.url_check(url)
    except net.Refused as refusal:
        raise ValidationError({"url": str(refusal)}) from None
    return url


def _clean_events(events: Sequence[str]) -> list[str]:
    unknown = [kind for kind in events if kind not in EVENT_KINDS]
    if unknown or not events:
        raise ValidationError(
            {"events": gettext("One or more of: %(kinds)s.") % {"kinds": ", ".join(EVENT_KINDS)}}
        )
    return sorted(set(events))


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def webhook_create(
    *, actor, url: str, events: Sequence[str], active: bool = True, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; return it with its signing secret, which is shown only this once."""
    _require(actor)
    if WebhookEndpoint.objects.count() >= MAX_ENDPOINTS:
        raise ValidationError({"url": gettext("A chain has at most %(n)d webhooks.") % {"n": MAX_ENDPOINTS}})
    secret = secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        url=_clean_url(url),
        events=_clean_events(events),
        active=active,
        description=description,
        secret=secret,
        created_by=actor,
    )
    return endpoint, secret


@transaction.atomic
def webhook_update(*, endpoint: WebhookEndpoint, actor, **fields) -> WebhookEndpoint:
    """Change the URL, events, description or `active`; turning it on clears an automatic disable."""
    _require(actor)
    changed = []
    for name, value in fields.items():
        if name == "url":
            value = _clean_url(value)
        elif name == "events":
            value = _clean_events(value)
        elif name not in ("active", "description"):
            raise TypeError(f"unknown webhook field: {name}")
        setattr(endpoint, name, value)
        changed.append(name)
    if fields.get("active") and endpoint.disabled_at is not None:
        endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = None, "", None
        changed += ["disabled_at", "disabled_reason", "failing_since"]
    if changed:
        endpoint.save(update_fields=[*changed, "updated_at"])
    return endpoint


@transaction.atomic
def webhook_ping(*, endpoint: WebhookEndpoint, actor) -> int:
    """Queue a `ping` event for this endpoint only, sent like any other delivery."""
    _require(actor)
    if not endpoint.active:
        raise EndpointInactive()
    return events_emit([(PING, {"webhook": str(endpoint.pk)})], endpoint_id=endpoint.pk)
