from django.http import HttpRequest

from auditlog.models import SignInEvent
from kassa.net import client_ip
from tenants.context import current_tenant_id


def _clean(text: str, limit: int) -> str:
    """One line, no control characters: a username with CR/LF stays one entry (log injection)."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)[:limit]


def signin_event_record(
    *,
    request: HttpRequest | None,
    username: str,
    outcome: str,
    reason: str = "",
    channel: str = "api",
    user=None,
    kind: str = SignInEvent.Kind.SIGN_IN,
    actor=None,
) -> SignInEvent | None:
    """Record a sign-in event of the current tenant (no tenant: nothing to attach it to)."""
    if current_tenant_id() is None:
        return None
    meta = request.META if request is not None else {}
    return SignInEvent.objects.create(
        kind=kind,
        username=_clean(username, 150),
        user_id=user.pk if user is not None else None,
        actor_id=actor.pk if actor is not None else None,
        outcome=outcome,
        reason=reason,
        channel=channel,
        ip=client_ip(request) or None if request is not None else None,
        host=_clean(request.get_host(), 253) if request is not None else "",
        user_agent=_clean(meta.get("HTTP_USER_AGENT", ""), 300),
    )
