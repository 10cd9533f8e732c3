"""The chain's day at a glance on the admin index: sales today by store, low stock, failed sign-ins,
a broken audit trail when the daily verification found one, backups in trouble (the last
one failed, the newest good one too old, or its drill failed), and for owners the chain's
subscription (a link to end it, or the purge date once it ends)."""

import contextlib

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Sum

from accounts import authz
from accounts.permissions import (
    EXPORT,
    MANAGE_SETTINGS,
    MANAGE_USERS,
    VIEW_CHAIN_LOGS,
    VIEW_PRODUCTS,
    VIEW_SALES,
)
from accounts.selectors import keys_expiring, log_scope
from accounts.services import KEY_EXPIRY_WARNING
from auditlog import selectors as audit_selectors
from auditlog.models import SignInEvent
from auditlog.services import audit_verification_latest
from inventory import selectors
from lifecycle.selectors import backup_trouble, chain_owner
from lifecycle.services.purge import termination_status

LOW_STOCK_ROWS = 15
FAILED_SIGNINS = 10


def dashboard_for(user) -> dict:
    """What this user may see of today; empty parts are left out."""
    found: dict = {}
    if authz.can(user, VIEW_SALES):
        # "Today" is each store's own local day (tenants.timezones).
        found["sales_today"] = list(
            selectors.in_local_today(queryset=selectors.sales_visible_to(user=user))
            .values("store__name")
            .annotate(count=Count("id"), total=Sum("total"), refunded=Sum("refunded_total"))
            .order_by("store__name")
        )
    if authz.can(user, VIEW_PRODUCTS):
        found["low_stock"] = list(
            selectors.stock_levels_visible_to(user=user)
            .filter(quantity__lte=F("reorder_point"), product__active=True)
            .select_related("store", "product")
            .order_by("quantity", "product__sku")[:LOW_STOCK_ROWS]
        )
    if authz.can(user, MANAGE_USERS):
        found["keys_expiring"] = list(keys_expiring(actor=user, within=KEY_EXPIRY_WARNING)[:LOW_STOCK_ROWS])
    if authz.can(user, VIEW_CHAIN_LOGS) or authz.can(user, MANAGE_SETTINGS):
        latest = audit_verification_latest(tenant=user.tenant)
        if latest is not None and not latest.intact:  # the chain's owners must see this
            found["audit_broken"] = latest
    if authz.can(user, EXPORT) or authz.can(user, MANAGE_SETTINGS):  # who sees the backups
        trouble = backup_trouble()
        if trouble:
            found["backup_trouble"] = trouble
    if authz.can(user, MANAGE_SETTINGS) and chain_owner(user):  # the chain's end: its owners'
        found["termination"] = termination_status(tenant=user.tenant)
    with contextlib.suppress(PermissionDenied):  # no log permission: no failed sign-ins
        found["failed_signins"] = list(
            audit_selectors.signin_list(scope=log_scope(reader=user), filters={})
            .exclude(outcome__in=[SignInEvent.Outcome.SUCCESS, SignInEvent.Outcome.PENDING])
            .exclude(kind=SignInEvent.Kind.SIGN_OUT)[:FAILED_SIGNINS]
        )
    return found
