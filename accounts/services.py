"""Every change to users, roles, passwords and support access goes through these functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import authz, lockout
from accounts.models import PasswordHistory, Role, RoleAssignment, SupportGrant, User
from accounts.permissions import BUILTIN_ROLES, CATALOGUE, HOMES, MANAGE_ROLES, MANAGE_USERS, SUPPORT_DEFAULT
from accounts.policy import (
    password_problems,
    policy_for,
    policy_of_roles,
    policy_validate,
    role_policy_defaults,
)
from accounts.sessions import sessions_end
from auditlog.models import SignInEvent
from auditlog.services import signin_event_record
from tenants.context import require_tenant_id
from tenants.models import Store


class PolicyViolation(ValidationError):
    """A password breaks named rules: `problems` maps each rule to its message."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(list(problems.values()), code="password_policy")
        self.problems = problems


def roles_seed() -> list[Role]:
    """Create the built-in roles of the current tenant (owner, store manager, cashier, ...)."""
    roles = []
    for key, spec in BUILTIN_ROLES.items():
        fields = role_policy_defaults(mfa_required=spec["mfa_required"])
        fields.update({k: v for k, v in spec.items() if k not in ("name", "mfa_required")})
        role, _ = Role.objects.get_or_create(builtin=key, defaults={"name": spec["name"], **fields})
        roles.append(role)
    return roles


def _check_can_assign(actor: User | None, roles: Sequence[Role], stores: Sequence[Store]) -> None:
    """No one gives another (or themselves) more than they hold, or outside their stores."""
    if actor is None:
        return
    if not authz.can(actor, MANAGE_USERS):
        raise PermissionDenied("You may not manage users.")
    for role in roles:
        for permission in role.permissions:
            held = authz.store_ids(actor, permission)
            if held is authz.ALL_STORES:
                continue
            if not held or not stores or any(store.pk not in held for store in stores):
                raise PermissionDenied(f"You cannot grant {permission!r} there: you do not hold it.")


def _check_can_manage(actor: User | None, user: User) -> None:
    """The actor must be able to grant everything the user holds, where the user holds it."""
    _check_can_assign(actor, [], [])
    assignments = list(RoleAssignment.objects.filter(user=user).select_related("role", "store"))
    for assignment in assignments:
        _check_can_assign(actor, [assignment.role], [assignment.store] if assignment.store else [])


def _password_set(user: User, password: str, roles: Sequence[Role] | None = None) -> None:
    policy = policy_of_roles(roles) if roles is not None else policy_for(user)
    problems = password_problems(password, user, policy)
    if problems:
        raise PolicyViolation(problems)
    if user.pk is not None and user.password:
        PasswordHistory.objects.create(user=user, password=user.password)
    user.password = make_password(password)
    user.password_changed_at = timezone.now()


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    roles: Sequence[Role] = (),
    stores: Sequence[Store] = (),
    actor: User | None = None,
    must_change_password: bool = True,
    full_name: str = "",
    email: str = "",
) -> User:
    """Create a user of the current tenant holding `roles` in `stores` (every store if none)."""
    _check_can_assign(actor, roles, stores)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "A user with this username exists."})
    user = User(
        tenant_id=require_tenant_id(),
        username=username,
        full_name=full_name,
        email=email,
        must_change_password=must_change_password,
    )
    policy = policy_of_roles(roles)
    if policy.mfa_required:
        user.mfa_grace_until = timezone.now() + timedelta(days=settings.KASSA_MFA_GRACE_DAYS)
    _password_set(user, password, roles)
    user.save()
    _assign(user, roles, stores)
    return user


def _assign(user: User, roles: Sequence[Role], stores: Sequence[Store]) -> None:
    where: list[Store | None] = [*stores] or [None]  # no store: every store
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(tenant_id=user.tenant_id, user=user, role=role, store=store)
            for role in roles
            for store in where
        ]
    )
    user.__dict__.pop("_kassa_grants", None)


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: User,
    roles: Sequence[Role] | None = None,
    stores: Sequence[Store] | None = None,
    full_name: str | None = None,
    email: str | None = None,
) -> User:
    """Change a user's details or roles; only within what the actor holds."""
    if user.pk == actor.pk and roles is not None:
        raise PermissionDenied("You cannot change your own roles.")
    current_roles = list(Role.objects.filter(assignments__user=user).distinct())
    current_stores = list(Store.objects.filter(pk__in=user.assignments.values("store_id")))
    # The actor must be able to grant what the user holds now, and what they would hold.
    _check_can_manage(actor, user)
    if roles is not None or stores is not None:
        new_roles = roles if roles is not None else current_roles
        new_stores = stores if stores is not None else current_stores
        _check_can_assign(actor, new_roles, new_stores)
        RoleAssignment.objects.filter(user=user).delete()
        _assign(user, new_roles, new_stores)
    fields: list[str] = []
    if full_name is not None:
        user.full_name, fields = full_name, [*fields, "full_name"]
    if email is not None:
        user.email, fields = email, [*fields, "email"]
    if fields:
        user.save(update_fields=fields)
    return user


@transaction.atomic
def user_deactivate(*, user: User, actor: User) -> User:
    """Deactivate a user and end every session and token they have."""
    if user.pk == actor.pk:
        raise PermissionDenied("You cannot deactivate yourself.")
    _check_can_manage(actor, user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    sessions_end(user=user)
    return user


@transaction.atomic
def user_unlock(*, user: User, actor: User, request=None) -> int:
    """Clear a user's lockout (an administrator's action, logged)."""
    _check_can_manage(actor, user)
    cleared = lockout.lockout_clear(lockout.lockout_key(None, {"username": user.username}))
    signin_event_record(
        request=request,
        username=user.username,
        outcome=SignInEvent.Outcome.SUCCESS,
        reason="unlocked",
        channel="api",
        user=user,
        kind=SignInEvent.Kind.UNLOCK,
        actor=actor,
    )
    return cleared


@transaction.atomic
def password_change(
    *, user: User, current_password: str, new_password: str, keep_token=None, keep_session_key=None
) -> None:
    """Change one's own password; every other session and token of the user ends."""
    if not user.check_password(current_password):
        raise PolicyViolation({"current_password": "The current password is wrong."})  # nosec B105 - a message
    _password_set(user, new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    sessions_end(user=user, keep_token=keep_token, keep_session_key=keep_session_key)


@transaction.atomic
def password_reset(
    *, user: User, actor: User | None, new_password: str, must_change_password: bool = True
) -> None:
    """An administrator (or, with no actor, an operator's command) sets a password; by default
    it must be changed at first use. Every session and token of the user ends."""
    _check_can_manage(actor, user)
    _password_set(user, new_password)
    user.must_change_password = must_change_password
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    sessions_end(user=user)


ROLE_POLICY_FIELDS = (
    "password_min_length",
    "password_require_classes",
    "password_history",
    "password_max_age_days",
    "lockout_threshold",
    "lockout_cooloff_seconds",
    "mfa_required",
    "session_idle_seconds",
    "session_lifetime_seconds",
    "token_idle_seconds",
    "token_lifetime_seconds",
    "max_discount_percent",
    "home",
)


def _check_grantable(actor: User, permissions: Sequence[str]) -> None:
    """Permissions given chain-wide (in a role or a support grant) must be held chain-wide."""
    missing = [p for p in permissions if authz.store_ids(actor, p) is not authz.ALL_STORES]
    if missing:
        raise PermissionDenied(f"You cannot grant what you do not hold: {', '.join(missing)}.")


def _role_check(actor: User, permissions: Sequence[str], fields: dict) -> None:
    if not authz.can(actor, MANAGE_ROLES):
        raise PermissionDenied("You may not manage roles.")
    unknown = sorted(set(permissions) - set(CATALOGUE))
    problems = policy_validate(fields)
    if fields.get("home") not in (None, *HOMES):
        problems["home"] = f"one of {', '.join(HOMES)}"
    if unknown:
        problems["permissions"] = f"unknown permissions: {', '.join(unknown)}"
    if problems:
        raise ValidationError(problems)
    _check_grantable(actor, permissions)


@transaction.atomic
def role_create(*, actor: User, name: str, permissions: Sequence[str], **fields) -> Role:
    defaults = role_policy_defaults(mfa_required=fields.get("mfa_required", False))
    values = {**defaults, **{k: v for k, v in fields.items() if k in ROLE_POLICY_FIELDS}}
    _role_check(actor, permissions, values)
    if Role.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": "A role with this name exists."})
    return Role.objects.create(name=name, permissions=sorted(set(permissions)), **values)


@transaction.atomic
def role_update(*, role: Role, actor: User, name: str | None = None, permissions=None, **fields) -> Role:
    values = {k: v for k, v in fields.items() if k in ROLE_POLICY_FIELDS}
    new_permissions = sorted(set(permissions)) if permissions is not None else role.permissions
    _role_check(actor, new_permissions, {**{f: getattr(role, f) for f in ROLE_POLICY_FIELDS}, **values})
    if role.builtin == "owner" and permissions is not None and set(new_permissions) != set(CATALOGUE):
        raise ValidationError({"permissions": "The owner role keeps every permission."})
    if name is not None:
        if Role.objects.filter(name__iexact=name).exclude(pk=role.pk).exists():
            raise ValidationError({"name": "A role with this name exists."})
        role.name = name
    role.permissions = new_permissions
    for field, value in values.items():
        setattr(role, field, value)
    role.save()
    return role


@transaction.atomic
def support_grant_create(
    *, actor: User, staff_username: str, reason: str, expires_at, permissions: Sequence[str] | None = None
) -> SupportGrant:
    """Let a platform staff member see this tenant's data, for a reason, until a time (at most 7 days)."""
    from accounts.permissions import GRANT_SUPPORT

    if not authz.can(actor, GRANT_SUPPORT):
        raise PermissionDenied("You may not grant support access.")
    now = timezone.now()
    problems = {}
    if not reason.strip():
        problems["reason"] = "Say why support needs access."
    if expires_at <= now or expires_at > now + timedelta(days=7):
        problems["expires_at"] = "Must be in the future and at most 7 days away."
    permissions = list(permissions or SUPPORT_DEFAULT)
    unknown = sorted(set(permissions) - set(CATALOGUE))
    if unknown:
        problems["permissions"] = f"unknown permissions: {', '.join(unknown)}"
    if problems:
        raise ValidationError(problems)
    _check_grantable(actor, permissions)
    return SupportGrant.objects.create(
        staff_username=staff_username,
        reason=reason,
        permissions=permissions,
        granted_by=actor,
        expires_at=expires_at,
    )


def support_grant_revoke(*, grant: SupportGrant, actor: User) -> None:
    from accounts.permissions import GRANT_SUPPORT

    if not authz.can(actor, GRANT_SUPPORT):
        raise PermissionDenied("You may not revoke support access.")
    SupportGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def integrator_key_create(*, user: User, actor: User, name: str, scopes=(), allowed_ips=()):
    """A 90-day key for a service user, narrowed to `scopes` and `allowed_ips` when given."""
    from accounts.models import ApiToken
    from accounts.tokens import token_issue

    _check_can_manage(actor, user)
    return token_issue(
        user=user,
        policy=policy_for(user),
        kind=ApiToken.Kind.INTEGRATOR,
        name=name,
        scopes=list(scopes),
        allowed_ips=list(allowed_ips),
    )


DORMANT_AFTER = timedelta(days=90)


def users_deactivate_dormant(*, now=None) -> int:
    """Deactivate the current tenant's users unused for 90 days (PCI DSS 8.2.6); service users too."""
    now = now or timezone.now()
    cutoff = now - DORMANT_AFTER
    from django.db.models import Q

    dormant = User.objects.filter(is_active=True).filter(
        Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff)
    )
    count = 0
    for user in dormant:
        user.is_active = False
        user.save(update_fields=["is_active"])
        sessions_end(user=user)
        count += 1
    return count
