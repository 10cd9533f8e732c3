"""The navigation shared by every page: what the signed-in user may open, and where they are."""

from django import template

from accounts import authz
from accounts.permissions import SELL, VIEW_CHAIN_LOGS, VIEW_SALES, VIEW_STORE_LOGS

register = template.Library()

SECTIONS = (
    ("/pos/", "pos"),
    ("/reports/", "reports"),
    ("/audit/", "audit"),
    ("/admin/", "admin"),
    ("/account/", "account"),
)


@register.simple_tag(takes_context=True)
def kassa_nav(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    tenant = getattr(request, "tenant", None)
    current = next((name for prefix, name in SECTIONS if request.path.startswith(prefix)), "")
    if tenant is None:  # the platform host: staff only, and only the admin
        return {"admin": user.is_platform_staff, "current": current, "home": "/admin/"}
    if user.tenant_id != tenant.pk:
        return {}
    nav = {
        "pos": authz.can(user, SELL),
        "reports": authz.can(user, VIEW_SALES),
        "audit": authz.can(user, VIEW_CHAIN_LOGS) or authz.can(user, VIEW_STORE_LOGS),
        "admin": bool(authz.permissions_of(user)),
        "account": True,
        "current": current,
    }
    nav["home"] = "/pos/" if nav["pos"] else "/audit/" if nav["audit"] else "/account/"
    return nav
