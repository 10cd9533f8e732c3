"""Sign-in and password policy: the strictest of a user's roles applies.

Defaults and floors follow ../shared/design/security-targets.md: a tenant may make a policy
stricter, never weaker than the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.hashers import check_password
from django.contrib.auth.password_validation import CommonPasswordValidator, UserAttributeSimilarityValidator
from django.core.exceptions import ValidationError
from django.utils import timezone

PASSWORD_MAX_LENGTH = 128
CHARACTER_CLASSES = {
    "letter": ("a letter", str.isalpha),
    "lower": ("a lower-case letter", str.islower),
    "upper": ("an upper-case letter", str.isupper),
    "digit": ("a digit", str.isdigit),
    "symbol": ("a symbol", lambda c: not c.isalnum() and not c.isspace()),
}

# (field, floor, ceiling): a role's policy must stay within these bounds.
BOUNDS = {
    "password_min_length": (12, PASSWORD_MAX_LENGTH),
    "password_history": (4, 24),
    "password_max_age_days": (1, 365),
    "lockout_threshold": (3, 10),
    "lockout_cooloff_seconds": (1800, 86400),
    "session_idle_seconds": (60, 1800),
    "session_lifetime_seconds": (300, 43200),
    "token_idle_seconds": (60, 1800),
    "token_lifetime_seconds": (300, 43200),
}


@dataclass(frozen=True)
class Policy:
    password_min_length: int = 15
    password_require_classes: tuple[str, ...] = ("letter", "digit")
    password_history: int = 4
    password_max_age_days: int | None = 90
    lockout_threshold: int = 10
    lockout_cooloff_seconds: int = 1800
    mfa_required: bool = False
    session_idle_seconds: int = 900
    session_lifetime_seconds: int = 43200
    token_idle_seconds: int = 900
    token_lifetime_seconds: int = 43200


DEFAULT_POLICY = Policy()
# Platform staff hold no role: TOTP always (so no maximum password age, as for roles with MFA),
# and the owner's lockout threshold.
PLATFORM_STAFF_POLICY = Policy(
    password_min_length=12, password_max_age_days=None, lockout_threshold=5, mfa_required=True
)


def role_policy_defaults(*, mfa_required: bool) -> dict:
    """Policy fields of a new role: 12 characters with MFA, 15 and 90 days' age without."""
    return {
        "mfa_required": mfa_required,
        "password_min_length": 12 if mfa_required else 15,
        "password_max_age_days": None if mfa_required else 90,
    }


def policy_validate(fields: dict) -> dict[str, str]:
    """Name every policy field outside its floor or ceiling, or an unknown character class."""
    problems = {}
    for name, (low, high) in BOUNDS.items():
        value = fields.get(name)
        if value is not None and not low <= value <= high:
            problems[name] = f"must be between {low} and {high}"
    unknown = set(fields.get("password_require_classes") or ()) - set(CHARACTER_CLASSES)
    if unknown:
        problems["password_require_classes"] = f"unknown classes: {', '.join(sorted(unknown))}"
    return problems


def policy_of_roles(roles) -> Policy:
    roles = list(roles)
    if not roles:
        return DEFAULT_POLICY
    ages = [r.password_max_age_days for r in roles if r.password_max_age_days]
    classes = sorted({c for r in roles for c in r.password_require_classes})
    return Policy(
        password_min_length=max(r.password_min_length for r in roles),
        password_require_classes=tuple(classes),
        password_history=max(r.password_history for r in roles),
        password_max_age_days=min(ages) if ages else None,
        lockout_threshold=min(r.lockout_threshold for r in roles),
        lockout_cooloff_seconds=max(r.lockout_cooloff_seconds for r in roles),
        mfa_required=any(r.mfa_required for r in roles),
        session_idle_seconds=min(r.session_idle_seconds for r in roles),
        session_lifetime_seconds=min(r.session_lifetime_seconds for r in roles),
        token_idle_seconds=min(r.token_idle_seconds for r in roles),
        token_lifetime_seconds=min(r.token_lifetime_seconds for r in roles),
    )


def policy_for(user) -> Policy:
    from accounts.models import Role

    if user.pk is not None and user.tenant_id is None and user.is_platform_staff:
        return PLATFORM_STAFF_POLICY
    if user.pk is None or user.tenant_id is None:
        return DEFAULT_POLICY
    return policy_of_roles(Role.objects.filter(assignments__user=user).distinct())


def password_problems(password: str, user, policy: Policy) -> dict[str, str]:
    """Every rule the password breaks, by name (an empty dict when it is acceptable)."""
    from accounts.models import PasswordHistory

    problems: dict[str, str] = {}
    if len(password) < policy.password_min_length:
        problems["too_short"] = f"Use at least {policy.password_min_length} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        problems["too_long"] = f"Use at most {PASSWORD_MAX_LENGTH} characters."
    for name in policy.password_require_classes:
        label, test = CHARACTER_CLASSES[name]
        if not any(test(c) for c in password):
            problems[f"missing_{name}"] = f"Include {label}."
    try:
        CommonPasswordValidator().validate(password)
    except ValidationError:
        problems["too_common"] = "This password is too common."
    try:
        UserAttributeSimilarityValidator(user_attributes=("username", "full_name", "email")).validate(
            password, user
        )
    except ValidationError:
        problems["too_similar"] = "This password is too similar to the username."
    if len(user.username) >= 3 and user.username.lower() in password.lower():
        problems["too_similar"] = "This password contains the username."
    if user.pk is not None and policy.password_history:
        earlier = [user.password] if user.password else []
        earlier += list(
            PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[
                : policy.password_history - 1
            ]
        )
        if any(check_password(password, hashed) for hashed in earlier):
            problems["reused"] = f"Do not reuse any of your last {policy.password_history} passwords."
    return problems


def password_expired(user, policy: Policy) -> bool:
    if user.must_change_password:
        return True
    if policy.password_max_age_days is None or user.password_changed_at is None:
        return False
    return (timezone.now() - user.password_changed_at).days >= policy.password_max_age_days
