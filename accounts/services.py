"""Every change to users, roles, passwords and support access goes through these functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import authz, lockout
from accounts.models import PasswordHistory, Role, RoleAssignment, SupportGrant, User
from accounts.permissions import (
    BUILTIN_ROLES,
    CATALOGUE,
    HOMES,
    MANAGE_ROLES,
    MANAGE_USERS,
    SUPPORT_ALLOWED,
    SUPPORT_DEFAULT,
)
from accounts.policy import (
    password_problems,
    policy_for,
    policy_of_roles,
    policy_validate,
    role_policy_defaults,
)
from accounts.sessions import sessions_end
from accounts.usernames import username_normalize, username_problem
from auditlog.models import PlatformEvent, SignInEvent
from auditlog.services import platform_event_record, signin_event_record
from core.errors import Conflict, Forbidden
from tenants.context import require_tenant_id
from tenants.models import Store


class SecondFactorRequired(Forbidden):
    """The actor's credential was not obtained with a second factor (403 `second_factor_required`)."""

    code = "second_factor_required"
    default_detail = "Sign in with your second factor (TOTP or a backup code) to do this."


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
        raise PermissionDenied(gettext("You may not manage users."))
    for role in roles:
        for permission in role.permissions:
            held = authz.store_ids(actor, permission)
            if held is authz.ALL_STORES:
                continue
            if not held or not stores or any(store.pk not in held for store in stores):
                raise PermissionDenied(
                    gettext("You cannot grant %(permission)s there: you do not hold it.")
                    % {"permission": repr(permission)}
                )


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


def _mfa_grace() -> datetime:
    return timezone.now() + timedelta(days=settings.KASSA_MFA_GRACE_DAYS)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None = None,
    roles: Sequence[Role] = (),
    stores: Sequence[Store] = (),
    actor: User | None = None,
    must_change_password: bool = True,
    full_name: str = "",
    email: str = "",
    is_service: bool = False,
) -> User:
    """Create a user of the current tenant holding `roles` in `stores` (every store if none).

    A service user (`is_service`) has no password and never signs in: it acts through keys.
    """
    _check_can_assign(actor, roles, stores)
    username = username_normalize(username)
    problem = username_problem(username)
    if problem:
        raise ValidationError({"username": problem})
    if is_service and password:
        raise ValidationError({"password": gettext("A service user has no password; it acts through keys.")})
    if not is_service and not password:
        raise ValidationError({"password": gettext("This field is required.")})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": gettext("A user with this username exists.")})
    user = User(
        tenant_id=require_tenant_id(),
        username=username,
        full_name=full_name,
        email=email,
        is_service=is_service,
        must_change_password=must_change_password and not is_service,
    )
    if is_service:
        user.set_unusable_password()
        user.password_changed_at = timezone.now()
    else:
        if policy_of_roles(roles).mfa_required:
            user.mfa_grace_until = _mfa_grace()
        _password_set(user, password or "", roles)
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
        raise PermissionDenied(gettext("You cannot change your own roles."))
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
        held = {role.pk for role in current_roles}
        if any(role.mfa_required and role.pk not in held for role in new_roles):
            _mfa_grace_give(User.objects.filter(pk=user.pk))
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
        raise PermissionDenied(gettext("You cannot deactivate yourself."))
    _check_can_manage(actor, user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    sessions_end(user=user)
    return user


@transaction.atomic
def user_unlock(*, user: User, actor: User, request=None) -> int:
    """Clear a user's lockout (an administrator's action, logged)."""
    _check_can_manage(actor, user)
    cleared = lockout.lockout_clear(lockout.lockout_key_for(user=user))
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
        raise PolicyViolation({"current_password": gettext("The current password is wrong.")})  # nosec B105 - a message
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
    if user.is_service:
        raise ValidationError(
            {"new_password": gettext("A service user has no password; it acts through keys.")}
        )
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
        raise PermissionDenied(
            gettext("You cannot grant what you do not hold: %(permissions)s.")
            % {"permissions": ", ".join(missing)}
        )


def _role_check(actor: User, permissions: Sequence[str], fields: dict) -> None:
    if not authz.can(actor, MANAGE_ROLES):
        raise PermissionDenied(gettext("You may not manage roles."))
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
        raise ValidationError({"name": gettext("A role with this name exists.")})
    return Role.objects.create(name=name, permissions=sorted(set(permissions)), **values)


@transaction.atomic
def role_update(*, role: Role, actor: User, name: str | None = None, permissions=None, **fields) -> Role:
    values = {k: v for k, v in fields.items() if k in ROLE_POLICY_FIELDS}
    new_permissions = sorted(set(permissions)) if permissions is not None else role.permissions
    _role_check(actor, new_permissions, {**{f: getattr(role, f) for f in ROLE_POLICY_FIELDS}, **values})
    if role.builtin == "owner" and permissions is not None and set(new_permissions) != set(CATALOGUE):
        raise ValidationError({"permissions": gettext("The owner role keeps every permission.")})
    if name is not None:
        if Role.objects.filter(name__iexact=name).exclude(pk=role.pk).exists():
            raise ValidationError({"name": gettext("A role with this name exists.")})
        role.name = name
    mfa_switched_on = values.get("mfa_required") is True and not role.mfa_required
    role.permissions = new_permissions
    for field, value in values.items():
        setattr(role, field, value)
    role.save()
    if mfa_switched_on:
        _mfa_grace_give(User.objects.filter(assignments__role=role))
    return role


def _mfa_grace_give(users) -> int:
    """A fresh enrolment grace for those of `users` who have no authenticator yet (they gained a
    role requiring MFA, or their role started to): without it they would be locked out at once.
    One UPDATE, however many users."""
    from accounts.models import TotpDevice

    enrolled = TotpDevice.objects.filter(confirmed=True).values("user_id")
    return (
        User.objects.filter(pk__in=users.values("pk"), is_service=False)
        .exclude(pk__in=enrolled)
        .update(mfa_grace_until=_mfa_grace())
    )


@transaction.atomic
def support_grant_create(
    *, actor: User, staff_username: str, reason: str, expires_at, permissions: Sequence[str] | None = None
) -> SupportGrant:
    """Let a platform staff member see this tenant's data, for a reason, until a time (at most 7 days)."""
    from accounts.permissions import GRANT_SUPPORT

    if not authz.can(actor, GRANT_SUPPORT):
        raise PermissionDenied(gettext("You may not grant support access."))
    now = timezone.now()
    problems = {}
    if not reason.strip():
        problems["reason"] = "Say why support needs access."
    if expires_at <= now or expires_at > now + timedelta(days=7):
        problems["expires_at"] = "Must be in the future and at most 7 days away."
    permissions = list(permissions or SUPPORT_DEFAULT)
    unknown = sorted(set(permissions) - set(CATALOGUE))
    beyond = sorted(set(permissions) - SUPPORT_ALLOWED - set(unknown))
    if unknown:
        problems["permissions"] = f"unknown permissions: {', '.join(unknown)}"
    elif beyond:
        problems["permissions"] = (
            f"a support grant may not carry {', '.join(beyond)}; "
            f"allowed: {', '.join(sorted(SUPPORT_ALLOWED))}"
        )
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
        raise PermissionDenied(gettext("You may not revoke support access."))
    SupportGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


# --- recovery ---------------------------------------------------------------------------


def _check_recovery(actor: User | None, user: User) -> None:
    """Recovery (MFA reset, reactivation) and keys: never on oneself, only over users the actor
    may manage (a store manager: in their stores), and only with a second factor behind the
    actor's own credential, so a stolen password alone (inside an enrolment grace) cannot use it."""
    if actor is None:
        return  # an operator's command
    if user.pk == actor.pk:
        raise PermissionDenied(gettext("You cannot do this for yourself."))
    if not authz.second_factor_verified(actor):
        raise SecondFactorRequired()
    _check_can_manage(actor, user)


@transaction.atomic
def user_mfa_reset(*, user: User, actor: User | None, request=None) -> None:
    """Remove the user's authenticators and backup codes, give a fresh enrolment grace, end every
    session and token; logged for the tenant (sign-in log) and for the platform."""
    from accounts import mfa

    _check_recovery(actor, user)
    if user.is_service:
        raise ValidationError({"user": gettext("A service user has no MFA; it acts through keys.")})
    mfa.mfa_reset(user=user)
    user.mfa_grace_until = _mfa_grace()
    user.save(update_fields=["mfa_grace_until"])
    sessions_end(user=user)
    _recovery_record(request=request, user=user, actor=actor, kind=SignInEvent.Kind.MFA_RESET)
    tenant, request_id = user.tenant, getattr(request, "audit_request_id", None)
    transaction.on_commit(
        lambda: platform_event_record(
            kind=PlatformEvent.Kind.MFA_RESET,
            tenant=tenant,
            actor=str(actor.pk) if actor is not None else "system",
            request_id=request_id,
            detail={"user": str(user.pk)},
        )
    )


@transaction.atomic
def user_reactivate(*, user: User, actor: User | None, request=None) -> User:
    """Turn a deactivated user back on (also one the dormancy job stopped): the password must be
    changed at first use, an enrolment grace is given when MFA is required and no device exists,
    and the dormancy clock starts again."""
    from accounts import mfa

    _check_recovery(actor, user)
    if user.is_active:
        raise Conflict(gettext("This user is active."))
    user.is_active = True
    user.reactivated_at = timezone.now()
    fields = ["is_active", "reactivated_at"]
    if not user.is_service:
        user.must_change_password = True
        fields.append("must_change_password")
        if policy_for(user).mfa_required and not mfa.has_device(user):
            user.mfa_grace_until = _mfa_grace()
            fields.append("mfa_grace_until")
    user.save(update_fields=fields)
    _recovery_record(request=request, user=user, actor=actor, kind=SignInEvent.Kind.REACTIVATE)
    return user


def _recovery_record(*, request, user: User, actor: User | None, kind: str) -> None:
    signin_event_record(
        request=request,
        username=user.username,
        outcome=SignInEvent.Outcome.SUCCESS,
        reason=kind,
        channel="api" if request is not None and request.path.startswith("/api/") else "web",
        user=user,
        kind=kind,
        actor=actor,
    )


# --- integrator keys ----------------------------------------------------------------------

KEY_OVERLAP_DEFAULT = timedelta(hours=24)
KEY_OVERLAP_MAX = timedelta(days=7)
KEY_EXPIRY_WARNING = timedelta(days=14)


def _check_key_scopes(user: User, scopes: Sequence[str]) -> list[str]:
    held = set(authz.permissions_of(user))
    problems = []
    if not scopes:
        problems.append("Name the permissions the key may use.")
    unknown = sorted(set(scopes) - set(CATALOGUE))
    if unknown:
        problems.append(f"Unknown permissions: {', '.join(unknown)}.")
    beyond = sorted(set(scopes) - held - set(unknown))
    if beyond:
        problems.append(f"The user does not hold: {', '.join(beyond)}.")
    if problems:
        raise ValidationError({"scopes": problems})
    return sorted(set(scopes))


def integrator_key_create(*, user: User, actor: User | None, name: str, scopes=(), allowed_ips=()):
    """A 90-day key for a service user, narrowed to `scopes` (required, within what the user
    holds) and `allowed_ips` when given. Nobody makes a key for themselves."""
    from accounts.models import ApiToken
    from accounts.tokens import token_issue

    _check_recovery(actor, user)
    if not user.is_service:
        raise ValidationError({"user": gettext("Keys are only for service users.")})
    if not user.is_active:
        raise Conflict(gettext("This user is deactivated."))
    return token_issue(
        user=user,
        policy=policy_for(user),
        kind=ApiToken.Kind.INTEGRATOR,
        name=name,
        scopes=_check_key_scopes(user, scopes),
        allowed_ips=list(allowed_ips),
    )


def key_revoke(*, key, actor: User | None) -> None:
    """Revoke an integrator key now (its own holder may too)."""
    from accounts.tokens import token_revoke

    if actor is not None and key.user_id != actor.pk:
        _check_can_manage(actor, key.user)
    token_revoke(token=key)


@transaction.atomic
def key_rotate(*, key, actor: User | None, overlap: timedelta = KEY_OVERLAP_DEFAULT):
    """A new key with the old one's name, scopes and allow-list; the old one keeps working for
    `overlap` (at most its own expiry), so the integration can switch without a gap.

    Returns (new key, its secret, the old key's new expiry).
    """
    from accounts.models import ApiToken
    from accounts.tokens import token_issue

    if overlap < timedelta(0) or overlap > KEY_OVERLAP_MAX:
        raise ValidationError(
            {
                "overlap_seconds": gettext("Between 0 and %(most)d.")
                % {"most": int(KEY_OVERLAP_MAX.total_seconds())}
            }
        )
    user = key.user
    _check_recovery(actor, user)
    locked = ApiToken.objects.select_for_update().get(pk=key.pk)
    now = timezone.now()
    if locked.revoked_at is not None or locked.expires_at <= now or locked.rotated_at is not None:
        raise Conflict(gettext("This key is revoked, expired or already rotated."))
    scopes = _check_key_scopes(user, locked.scopes)
    new, raw = token_issue(
        user=user,
        policy=policy_for(user),
        kind=ApiToken.Kind.INTEGRATOR,
        name=locked.name,
        scopes=scopes,
        allowed_ips=list(locked.allowed_ips),
    )
    old_expires = min(locked.expires_at, now + overlap)
    ApiToken.objects.filter(pk=locked.pk).update(rotated_at=now, expires_at=old_expires)
    return new, raw, old_expires


def keys_expiry_warn(*, now=None) -> int:
    """Tell the current tenant's owners, once per key, of integrator keys that expire within 14
    days: a mail to each owner with an e-mail address (the admin dashboard lists them too)."""
    from django.core.mail import send_mail

    from accounts.models import ApiToken
    from accounts.permissions import OWNER

    now = now or timezone.now()
    due = list(
        ApiToken.objects.filter(
            kind=ApiToken.Kind.INTEGRATOR,
            revoked_at__isnull=True,
            rotated_at__isnull=True,
            expiry_warned_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + KEY_EXPIRY_WARNING,
            user__is_active=True,
        )
        .select_related("user")
        .order_by("expires_at", "pk")
    )
    if not due:
        return 0
    owners = (
        User.objects.filter(assignments__role__builtin=OWNER, is_active=True)
        .exclude(email="")
        .values_list("email", "language")
        .distinct()
    )
    by_language: dict[str, list[str]] = {}
    for email, language in owners:
        by_language.setdefault(language or settings.LANGUAGE_CODE, []).append(email)
    for language, emails in sorted(by_language.items()):
        with translation.override(language):  # each owner reads it in their own language
            lines = [
                gettext("- %(key)s (%(prefix)s…) of %(user)s: expires %(when)s UTC")
                % {
                    "key": key.name or gettext("key"),
                    "prefix": key.prefix,
                    "user": key.user.username,
                    "when": f"{key.expires_at:%Y-%m-%d %H:%M}",
                }
                for key in due
            ]
            send_mail(
                subject=gettext("Kassa: %(count)d integrator key(s) expire within 14 days")
                % {"count": len(due)},
                message=gettext("These keys stop working soon; rotate them (POST /api/v1/keys/{id}/rotate/):")
                + "\n\n"
                + "\n".join(lines),
                from_email=None,
                recipient_list=sorted(emails),
            )
    ApiToken.objects.filter(pk__in=[key.pk for key in due]).update(expiry_warned_at=now)
    return len(due)


# --- dormancy -----------------------------------------------------------------------------

DORMANT_AFTER = timedelta(days=90)


def users_deactivate_dormant(*, now=None) -> int:
    """Deactivate the current tenant's users unused for 90 days (PCI DSS 8.2.6), in three
    statements whatever their number. Use is a sign-in, a reactivation, or a token or key
    used (a service user never signs in: its key's use is its activity)."""
    from django.db.models import Q

    from accounts.models import ApiToken, UserSession

    now = now or timezone.now()
    cutoff = now - DORMANT_AFTER
    recently_used = ApiToken.objects.filter(last_used_at__gte=cutoff).values("user_id")
    dormant = list(
        User.objects.filter(is_active=True)
        .filter(Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff))
        .exclude(reactivated_at__gte=cutoff)
        .exclude(pk__in=recently_used)
        .values_list("pk", flat=True)
    )
    if not dormant:
        return 0
    User.objects.filter(pk__in=dormant).update(is_active=False)
    ApiToken.objects.filter(user_id__in=dormant, revoked_at__isnull=True).update(revoked_at=now)
    UserSession.objects.filter(user_id__in=dormant, revoked_at__isnull=True).update(revoked_at=now)
    return len(dormant)


def access_attempts_expire(*, now=None) -> int:
    """Delete the current tenant's failed sign-in records (django-axes) older than the retention.

    They hold usernames, addresses, user agents and what was typed; a lockout needs them for
    its cool-off only, so KASSA_ACCESS_ATTEMPT_DAYS (7) is ample. Expirations go with their attempt.
    """
    from axes.models import AccessAttempt

    cutoff = (now or timezone.now()) - timedelta(days=settings.KASSA_ACCESS_ATTEMPT_DAYS)
    deleted, _ = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
    return deleted
