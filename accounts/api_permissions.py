"""DRF permission classes: every one asks accounts.authz.can.

The one way an API view declares what it needs: `permission_classes = [Can(...)]`,
`[ReadWrite(read, write)]` or `[CanAny(...)]`. Services check again only where a store
matters (the permission is held somewhere, but is it held in this store?).
"""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts import authz


class IsSignedIn(BasePermission):
    """A live token whose password is not due for a change (then only the change is allowed)."""

    def has_permission(self, request, view):
        if request.user is None or not request.user.is_authenticated:
            return False
        token = request.auth
        if getattr(token, "password_change_only", False) and not getattr(
            view, "allowed_before_password_change", False
        ):
            raise PermissionDenied("Change your password first.", code="password_expired")
        return True


def Can(permission: str) -> type[BasePermission]:
    """Permission class: the user holds `permission` (in at least one store, for store-scoped ones)."""

    class _Can(IsSignedIn):
        def has_permission(self, request, view):
            return super().has_permission(request, view) and authz.can(request.user, permission)

    _Can.__name__ = f"Can_{permission}"
    return _Can


def CanAny(*permissions: str) -> type[BasePermission]:
    """Permission class: the user holds at least one of `permissions`."""

    class _CanAny(IsSignedIn):
        def has_permission(self, request, view):
            return super().has_permission(request, view) and any(
                authz.can(request.user, permission) for permission in permissions
            )

    _CanAny.__name__ = "CanAny_" + "_".join(permissions)
    return _CanAny


def ReadWrite(
    read: str | type[BasePermission],
    write: str | type[BasePermission],
    *,
    create: str | type[BasePermission] | None = None,
    read_message: str | None = None,
    write_message: str | None = None,
) -> type[BasePermission]:
    """Permission class: `read` for safe methods, `write` for the others (permission names or
    classes, e.g. `IsSignedIn` where a side needs nothing more), each refusing in its words;
    `create`, when given, for POST instead of `write` (customers: created at the till, changed
    by managers)."""
    readers = Can(read) if isinstance(read, str) else read
    writers = Can(write) if isinstance(write, str) else write
    creators = writers if create is None else Can(create) if isinstance(create, str) else create

    class _ReadWrite(IsSignedIn):
        def has_permission(self, request, view):
            reading = request.method in SAFE_METHODS
            message = read_message if reading else write_message
            if message is not None:
                self.message = message
            side = readers if reading else creators if request.method == "POST" else writers
            return side().has_permission(request, view)

    _ReadWrite.__name__ = f"ReadWrite_{readers.__name__}_{writers.__name__}"
    return _ReadWrite
