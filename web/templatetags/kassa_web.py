"""The navigation shared by every page: what the signed-in user may open, and where they are."""

from django import template

from accounts import authz
from accounts.permissions import (
    ADJUST_STOCK,
    COUNT_STOCK,
    MANAGE_PURCHASING,
    RECEIVE_STOCK,
    SELL,
    TRANSFER_STOCK,
    VIEW_CHAIN_LOGS,
    VIEW_PRODUCTS,
    VIEW_SALES,
    VIEW_STORE_LOGS,
)

register = template.Library()

SECTIONS = (
    ("/pos/", "pos"),
    ("/backoffice/", "backoffice"),
    ("/reports/", "reports"),
    ("/audit/", "audit"),
    ("/admin/", "admin"),
    ("/account/", "account"),
)
# Any of these opens the back office (web/backoffice.py) of the stores where it is held.
BACK_OFFICE = (VIEW_PRODUCTS, COUNT_STOCK, RECEIVE_STOCK, TRANSFER_STOCK, MANAGE_PURCHASING, ADJUST_STOCK)


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
        "backoffice": any(authz.can(user, permission) for permission in BACK_OFFICE),
        "reports": authz.can(user, VIEW_SALES),
        "audit": authz.can(user, VIEW_CHAIN_LOGS) or authz.can(user, VIEW_STORE_LOGS),
        "admin": bool(authz.permissions_of(user)),
        "account": True,
        "current": current,
    }
    homes = (("pos", "/pos/"), ("audit", "/audit/"), ("backoffice", "/backoffice/"))
    nav["home"] = next((path for name, path in homes if nav[name]), "/account/")
    return nav
