"""Alerts to platform operators: log, e-mail to ADMINS, and an optional webhook."""

import json
import logging
import urllib.request

from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone

from core.counters import counter_add

logger = logging.getLogger("core.alerts")

BURST_WINDOW_SECONDS = 600


def alert_send(kind: str, *, tenant: str, detail: str) -> None:
    """Tell operators now; a failing channel is logged, never raised into the caller."""
    logger.error("ALERT %s for tenant %s: %s", kind, tenant, detail)
    subject = f"[Kassa] {kind} for tenant {tenant}"
    try:
        mail_admins(subject, detail, fail_silently=False)
    except Exception:  # the alert must not break the request that noticed the problem
        logger.exception("alert e-mail failed")
    if settings.KASSA_ALERT_WEBHOOK:
        body = json.dumps(
            {"kind": kind, "tenant": tenant, "detail": detail, "at": timezone.now().isoformat()}
        )
        request = urllib.request.Request(  # noqa: S310 - an operator-configured https URL
            settings.KASSA_ALERT_WEBHOOK, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()  # noqa: S310  # nosec B310 - operator-configured URL
        except OSError:
            logger.exception("alert webhook failed")


def burst_note(kind: str, *, tenant: str, threshold: int) -> bool:
    """Count one event of `kind` for `tenant`; alert once per window when it reaches `threshold`."""
    window = int(timezone.now().timestamp()) // BURST_WINDOW_SECONDS
    key = f"alert-burst:{kind}:{tenant}:{window}"
    count = counter_add(key, BURST_WINDOW_SECONDS * 2)
    if count == threshold:
        alert_send(
            kind,
            tenant=tenant,
            detail=f"{count} {kind.replace('_', ' ')} within {BURST_WINDOW_SECONDS // 60} minutes",
        )
        return True
    return False
