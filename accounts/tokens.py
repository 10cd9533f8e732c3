"""API tokens: 256 random bits shown once, stored as a SHA-256 hash, bound to a user and tenant.

The plaintext is `kassa_<tenant id hex>_<secret>`: the tenant part lets a request find its
tenant (and so pass row-level security) before the token row is looked up.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import re
import secrets
from datetime import timedelta
from typing import cast
from uuid import UUID

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from accounts.models import ApiToken, User
from accounts.policy import Policy

TOKEN_RE = re.compile(r"^kassa_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
LAST_USED_GRANULARITY = timedelta(minutes=1)


def last_use_granularity(idle_seconds: int | None) -> timedelta:
    """How old a recorded last use may grow before it is written again: a minute, or a third of
    the idle timeout when that is shorter. The idle check reads the recorded time, so a token
    (or session) idles out between idle - granularity and idle after its real last use — never
    while it is used more often than every two thirds of its idle timeout."""
    if idle_seconds is None:
        return LAST_USED_GRANULARITY
    return min(LAST_USED_GRANULARITY, timedelta(seconds=idle_seconds / 3))


INTEGRATOR_KEY_LIFETIME = timedelta(days=90)


class TokenRejected(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_tenant_id(raw: str) -> UUID | None:
    match = TOKEN_RE.match(raw)
    return UUID(match.group(1)) if match else None


@transaction.atomic
def token_issue(
    *,
    user: User,
    policy: Policy,
    kind: str = ApiToken.Kind.USER,
    name: str = "",
    scopes: list[str] | None = None,
    allowed_ips: list[str] | None = None,
    support_grant=None,
    password_change_only: bool = False,
    second_factor: bool = False,
    expires_at=None,
) -> tuple[ApiToken, str]:
    """Create a token; return it with its plaintext, which is never stored or shown again."""
    secret = secrets.token_urlsafe(32)
    raw = f"kassa_{user.tenant_id.hex if user.tenant_id else _tenant_hex()}_{secret}"
    now = timezone.now()
    if kind == ApiToken.Kind.INTEGRATOR:
        lifetime, idle = INTEGRATOR_KEY_LIFETIME, None
    elif password_change_only:
        lifetime, idle = timedelta(minutes=10), 600
    else:
        lifetime, idle = timedelta(seconds=policy.token_lifetime_seconds), policy.token_idle_seconds
    token = ApiToken.objects.create(
        user=user,
        kind=kind,
        name=name,
        prefix=secret[:8],
        token_hash=token_hash(raw),
        scopes=scopes or [],
        allowed_ips=allowed_ips or [],
        support_grant=support_grant,
        password_change_only=password_change_only,
        second_factor=second_factor and kind != ApiToken.Kind.INTEGRATOR,
        created_at=now,
        expires_at=min(expires_at or now + lifetime, now + lifetime),
        idle_timeout_seconds=idle,
        last_used_at=now,
    )
    return token, raw


def _tenant_hex() -> str:
    from tenants.context import require_tenant_id

    return require_tenant_id().hex


def _ip_allowed(ip: str, allowed: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in allowed)


def token_find(raw: str) -> ApiToken | None:
    """The token row for `raw` in the current tenant, read fresh (revocation is immediate) with
    its user, support grant and tenant, and the user's role grants (`grant_rows`, for
    accounts.authz): one statement for what a request needs to know about its caller.

    Hand-written SQL (`_token_sql`, built once per process from the models' columns) instead of
    the ORM's select_related and subquery, which compiled the same statement anew on every
    request (about a millisecond of Python each time). Prepared once per connection
    (`tenants.db.base.prepared`): planning it under row-level security cost the database ~0.3 ms,
    running it ~0.05 ms."""
    from django.db import connection

    from tenants.context import require_tenant_id

    sql, layout = _token_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [require_tenant_id(), token_hash(raw)])
        row = cursor.fetchone()
    if row is None:
        return None
    instances: dict[str, Model | None] = {}
    start = 0
    for name, model, fields, converters in layout:
        values = list(row[start : start + len(fields)])
        start += len(fields)
        if name == "support_grant" and values[0] is None:
            instances[name] = None
            continue
        for index, convert in converters:
            values[index] = convert(values[index])
        instances[name] = model.from_db(connection.alias, [f.attname for f in fields], values)
    token = cast(ApiToken, instances["token"])  # the first model of the layout
    for name in ("user", "support_grant", "tenant"):
        token._state.fields_cache[name] = instances[name]
    grants = row[start]
    token.grant_rows = json.loads(grants) if isinstance(grants, str | bytes) else grants
    return token


@functools.cache
def _token_sql():
    """The token statement and, per model it reads, its fields and the converters of its values."""
    from django.db import connection

    from accounts.models import Role, RoleAssignment, SupportGrant
    from tenants.models import Tenant
    from tenants.rows import prepared

    quote = connection.ops.quote_name
    models: list[tuple[str, type[Model], str]] = [
        ("token", ApiToken, "t"),
        ("user", User, "u"),
        ("support_grant", SupportGrant, "g"),
        ("tenant", Tenant, "n"),
    ]
    columns: list[str] = []
    layout = []
    for name, model, alias in models:
        fields = list(model._meta.concrete_fields)
        columns += [f"{alias}.{quote(f.column)}" for f in fields]
        converters = []
        for index, field in enumerate(fields):
            chain = connection.ops.get_db_converters(field) + field.get_db_converters(connection)
            if chain:
                converters.append((index, _converter(chain, field, connection)))
        layout.append((name, model, fields, converters))
    assignment, role = RoleAssignment._meta.db_table, Role._meta.db_table
    sql = f"""
SELECT {", ".join(columns)},
  (SELECT json_agg(json_build_object('permissions', r.permissions, 'store', a.store_id))
     FROM {assignment} a JOIN {role} r ON r.id = a.role_id
    WHERE a.user_id = t.user_id AND a.tenant_id = t.tenant_id)
FROM {ApiToken._meta.db_table} t
JOIN {User._meta.db_table} u ON u.id = t.user_id
JOIN {Tenant._meta.db_table} n ON n.id = t.tenant_id
LEFT JOIN {SupportGrant._meta.db_table} g ON g.id = t.support_grant_id
WHERE t.tenant_id = %s AND t.token_hash = %s
"""  # noqa: S608 - table and column names from the models, values as parameters
    return prepared(sql), layout


def _converter(chain, field, connection):
    def convert(value):
        for function in chain:
            value = function(value, field, connection)
        return value

    return convert


def token_validate(token: ApiToken | None, *, ip: str) -> ApiToken:
    """`token` if it is live for a request from `ip`, or TokenRejected with the answer's code."""
    if token is None or token.revoked_at is not None or not token.user.is_active:
        raise TokenRejected("not_authenticated")
    if token.user.is_service != (token.kind == ApiToken.Kind.INTEGRATOR):
        raise TokenRejected("not_authenticated")  # keys are for service users, and they have nothing else
    now = timezone.now()
    idle_expired = token.idle_timeout_seconds is not None and now - token.last_used_at > timedelta(
        seconds=token.idle_timeout_seconds
    )
    grant = token.support_grant
    if token.expires_at <= now or idle_expired or (grant is not None and not grant.is_active(now)):
        raise TokenRejected("token_expired")
    if token.allowed_ips and not _ip_allowed(ip, token.allowed_ips):
        raise TokenRejected("not_authenticated")
    if now - token.last_used_at >= last_use_granularity(token.idle_timeout_seconds):
        # At most one write a minute per token (a third of a shorter idle timeout), not one per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def tokens_revoke_for_user(*, user: User, keep: ApiToken | None = None) -> int:
    """Revoke every live token of the user but `keep` (password change, deactivation)."""
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if keep is not None:
        tokens = tokens.exclude(pk=keep.pk)
    return tokens.update(revoked_at=timezone.now())
