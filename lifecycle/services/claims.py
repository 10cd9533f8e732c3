"""The purge certificate's claim token: issued once to the owner who ends the subscription.

After the purge the tenant's users, sessions and host are gone; the certificate stays on the
platform. Whoever holds the token fetches it on the platform host (`GET
/api/v1/purge-certificate/` with the `Kassa-Certificate-Token` header), as often as they like
for as long as the certificate is kept (an auditor asks for it again years later).

The token is 256 random bits, shown once in the answer to the confirmation; only its SHA-256 is
stored (`lifecycle_certificateclaim`, through `kassa_certificate_claim_issue()`, migration
0004). It is never logged: the API-call log masks any field named like a token, the access log
keeps no such header, and nothing here writes it to a log line, the cache or a task's arguments.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime

from django.db import connection
from django.utils import timezone

from tenants.context import current_tenant_id
from tenants.models import Tenant

PREFIX = "kpc_"  # "Kassa purge certificate": lets secret scanners and people recognise it
TOKEN_SHAPE = re.compile(r"^kpc_[A-Za-z0-9_-]{43}$")
HEADER = "Kassa-Certificate-Token"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def certificate_claim_issue(*, tenant: Tenant) -> str | None:
    """A new claim token for the current tenant, or None when it has one already (never two).

    Runs in the caller's transaction: a confirmation that rolls back issues nothing.
    """
    if tenant.pk != current_tenant_id():
        raise ValueError("a claim is issued for the current tenant only")
    token = PREFIX + secrets.token_urlsafe(32)
    with connection.cursor() as cursor:
        cursor.execute("SELECT kassa_certificate_claim_issue(%s, %s)", [token_digest(token), timezone.now()])
        (stored,) = cursor.fetchone()
    return token if stored else None


def certificate_claim_issued_at() -> datetime | None:
    """When the current tenant's claim token was issued (None: not yet)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT kassa_certificate_claim_issued_at()")
        (issued,) = cursor.fetchone()
    return issued


def purge_certificate_claim(*, token: str) -> dict | None:
    """What a token may see: None for a token that matches no claim (or is not shaped like one);
    else `{"tenant_status", "subscription_ends_at", "certificate"}`, the certificate only when
    the purge is complete (its row as JSON: ids, counts and times; no customer data)."""
    if not TOKEN_SHAPE.match(token or ""):
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT kassa_purge_certificate_claim(%s)", [token_digest(token)])
        (answer,) = cursor.fetchone()
    # Django has psycopg hand jsonb over as text (it decodes JSON fields itself).
    return json.loads(answer) if isinstance(answer, str) else answer
