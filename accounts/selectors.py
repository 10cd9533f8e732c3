from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from accounts import authz
from accounts.models import ApiToken, Role, RoleAssignment, SupportGrant, User, UserSession
from accounts.permissions import MANAGE_USERS, VIEW_CHAIN_LOGS, VIEW_STORE_LOGS
from auditlog.models import SignInEvent
from auditlog.selectors import CHAIN, LogScope
from core.errors import NotFound


def users_visible_to(*, actor: User) -> QuerySet[User]:
    """The tenant's users, or for a store-scoped administrator those of their stores."""
    users = User.objects.prefetch_related("assignments").order_by("username")
    stores = authz.store_ids(actor, MANAGE_USERS)
    if stores is authz.ALL_STORES:
        return users
    return users.filter(assignments__store_id__in=stores).distinct()


def user_get(*, actor: User, user_id) -> User:
    user = users_visible_to(actor=actor).filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    return user


def role_get(*, role_id) -> Role:
    role = Role.objects.filter(pk=role_id).first()
    if role is None:
        raise NotFound()
    return role


def support_grant_get(*, grant_id) -> SupportGrant:
    grant = SupportGrant.objects.filter(pk=grant_id).first()
    if grant is None:
        raise NotFound()
    return grant


def keys_of(*, user: User) -> QuerySet[ApiToken]:
    """A user's integrator keys, live or not, newest first (the user was found through
    `user_get`, so it is one the reader may manage)."""
    return ApiToken.objects.filter(user=user, kind=ApiToken.Kind.INTEGRATOR).order_by("-created_at", "pk")


def key_get(*, actor: User, key_id) -> ApiToken:
    """An integrator key of a user the actor may manage; others' and other tenants' alike 404."""
    key = (
        ApiToken.objects.filter(
            pk=key_id, kind=ApiToken.Kind.INTEGRATOR, user__in=users_visible_to(actor=actor).values("pk")
        )
        .select_related("user")
        .first()
    )
    if key is None:
        raise NotFound()
    return key


def keys_expiring(*, actor: User, within) -> QuerySet[ApiToken]:
    """Live integrator keys of users the actor manages that expire within `within` (the notice
    on the admin dashboard, next to the owners' mail)."""
    from django.utils import timezone

    now = timezone.now()
    return (
        ApiToken.objects.filter(
            kind=ApiToken.Kind.INTEGRATOR,
            revoked_at__isnull=True,
            rotated_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + within,
            user__in=users_visible_to(actor=actor).values("pk"),
        )
        .select_related("user")
        .order_by("expires_at")
    )


def tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


def sessions_of(*, user: User) -> QuerySet[UserSession]:
    """The user's live browser sessions."""
    return UserSession.objects.filter(user=user, revoked_at__isnull=True)


def signin_history(*, user: User) -> QuerySet[SignInEvent]:
    return SignInEvent.objects.filter(user_id=user.pk)


def support_grants() -> QuerySet[SupportGrant]:
    return SupportGrant.objects.all()


def active_support_grant(*, staff_username: str) -> SupportGrant | None:
    from django.utils import timezone

    return (
        SupportGrant.objects.filter(
            staff_username=staff_username, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-expires_at")
        .first()
    )


def log_scope(*, reader: User) -> LogScope:
    """What of the audit log `reader` may read; PermissionDenied when nothing."""
    if authz.can(reader, VIEW_CHAIN_LOGS):
        return CHAIN
    stores = authz.store_ids(reader, VIEW_STORE_LOGS)
    if stores is authz.ALL_STORES:
        return CHAIN
    if not stores:
        raise PermissionDenied("You may not read the audit log.")
    return LogScope(
        stores=frozenset(stores),
        store_users=RoleAssignment.objects.filter(store_id__in=stores).values("user_id"),
    )
