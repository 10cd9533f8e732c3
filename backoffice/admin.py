"""Purchase orders, stocktakes and transfers in the admin: lists to find them, the configuration
(a new order or stocktake, a draft's supplier and notes), and bulk actions that ask first.

Daily work (lines by scanning, deliveries, counts, arrivals) happens on the task pages at
/backoffice/, which every change page links to. Writes call the same services as the API.
"""

import uuid

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts import authz
from accounts.admin_base import ServiceForm, ServiceFormAdmin, confirmed_action
from accounts.permissions import ADJUST_STOCK, MANAGE_PURCHASING
from backoffice import selectors
from backoffice.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Stocktake,
    StocktakeLine,
    Transfer,
    TransferLine,
)
from backoffice.services import purchasing, stocktakes
from core.errors import DomainError
from tenants.models import Store


class BackOfficeAdmin(ServiceFormAdmin):
    """Rows of the stores where the user holds one of `readers`; nothing is deleted here."""

    readers: tuple = ()
    store_fields: tuple = ("store_id",)

    def has_view_permission(self, request, obj=None):
        return any(authz.can(request.user, permission) for permission in self.readers)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        stores = selectors.stores_where_any(user=request.user, permissions=self.readers)
        if stores is None:
            return queryset
        match = Q()
        for name in self.store_fields:
            match |= Q(**{f"{name}__in": stores})
        return queryset.filter(match)

    @admin.display(description=_("back office"))
    def task_page(self, obj):
        return format_html('<a href="{}">{}</a>', self.task_url(obj), _("Open the task page"))

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    def construct_change_message(self, request, form, formsets, add=False):
        return super().construct_change_message(request, form, [], add)  # the lines are read-only here


class ReaderStoreFilter(admin.SimpleListFilter):
    """Filter by store, offering only the stores whose rows the user may see."""

    title = _("store")
    parameter_name = "store"

    def lookups(self, request, model_admin):
        stores = selectors.stores_where_any(user=request.user, permissions=model_admin.readers)
        found = Store.objects.all() if stores is None else Store.objects.filter(pk__in=stores)
        return [(str(store.pk), store.name) for store in found]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            store_id = uuid.UUID(self.value())
        except ValueError:
            # Not a store id: the changelist answers as for any bad filter (`?e=1`), never 500.
            raise IncorrectLookupParameters(f"{self.value()[:50]!r} is not a store") from None
        match = Q()
        for name in self.model_admin_store_fields:
            match |= Q(**{name: store_id})
        return queryset.filter(match)

    def __init__(self, request, params, model, model_admin):
        self.model_admin_store_fields = model_admin.store_fields
        super().__init__(request, params, model, model_admin)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True  # the parent's own permission decides


# --- purchase orders --------------------------------------------------------------------------


class PurchaseOrderLineInline(ReadOnlyInline):
    model = PurchaseOrderLine
    fields = ["product", "quantity", "received", "unit_cost"]
    readonly_fields = fields


class PurchaseOrderForm(ServiceForm):
    """Built per request by the admin (its fields come from `get_fields`)."""

    def run(self):
        data = self.cleaned_data
        if self.instance._state.adding:
            return purchasing.purchase_order_create(
                supplier=data["supplier"],
                store=data["store"],
                lines=[],
                notes=data.get("notes") or "",
                expected_on=data.get("expected_on"),
                actor=self.actor,
            )
        changes = {
            name: data[name] for name in self.changed_data if name in ("supplier", "notes", "expected_on")
        }
        if "store" in self.changed_data:
            raise ValidationError({"store": _("An order's store cannot change; cancel it and make another.")})
        order = PurchaseOrder.objects.get(pk=self.instance.pk)  # as stored, not as the form changed it
        return purchasing.purchase_order_update(order=order, actor=self.actor, **changes)


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(BackOfficeAdmin):
    form = PurchaseOrderForm
    readers = selectors.PURCHASE_READERS
    change_permission = MANAGE_PURCHASING
    list_display = ["number", "supplier", "store", "status", "expected_on", "created_at"]
    list_filter = ["status", ReaderStoreFilter, "supplier"]
    list_select_related = ["supplier", "store"]
    search_fields = ["=number", "supplier__name"]
    autocomplete_fields = ["supplier", "store"]
    inlines = [PurchaseOrderLineInline]
    actions = ["order_selected", "cancel_selected"]

    def task_url(self, order):
        return reverse("backoffice-order", args=[order.store_id, order.pk])

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fixed = ["number", "store", "status", "created_by", "ordered_at", "closed_at", "task_page"]
        if obj.status != PurchaseOrder.Status.DRAFT:
            fixed += ["supplier", "expected_on", "notes"]
        return fixed

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["supplier", "store", "expected_on", "notes"]
        return [
            "number",
            "task_page",
            "supplier",
            "store",
            "status",
            "expected_on",
            "notes",
            "created_by",
            "ordered_at",
            "closed_at",
        ]

    def _each(self, request, queryset, service, done):
        count = 0
        for order in queryset.select_related("store"):
            try:
                service(order=order, actor=request.user)
                count += 1
            except (PermissionDenied, ValidationError, DomainError) as error:
                text = getattr(error, "detail", None) or " ".join(getattr(error, "messages", [str(error)]))
                self.message_user(
                    request,
                    _("PO %(number)s: %(error)s") % {"number": order.number, "error": text},
                    messages.WARNING,
                )
        self.message_user(request, done % {"count": count})

    @admin.action(description=_("Send the selected drafts to their suppliers"), permissions=["change"])
    @confirmed_action(
        question=_("Order %(count)d purchase orders?"),
        consequence=_("Their lines are fixed from then on, and deliveries can be received against them."),
    )
    def order_selected(self, request, queryset):
        self._each(
            request, queryset, purchasing.purchase_order_order, _("%(count)d purchase orders ordered.")
        )

    @admin.action(description=_("Cancel the selected purchase orders"), permissions=["change"])
    @confirmed_action(
        question=_("Cancel %(count)d purchase orders?"),
        consequence=_("What has arrived stays received; the rest is no longer expected."),
    )
    def cancel_selected(self, request, queryset):
        self._each(
            request, queryset, purchasing.purchase_order_cancel, _("%(count)d purchase orders cancelled.")
        )


# --- stocktakes -------------------------------------------------------------------------------


class StocktakeLineInline(ReadOnlyInline):
    model = StocktakeLine
    fields = [
        "product",
        "expected",
        "counted",
        "counted_by",
        "counted_at",
        "stock_at_count",
        "difference",
        "unit_cost",
    ]
    readonly_fields = fields
    max_num = 0


class StocktakeForm(ServiceForm):
    def run(self):
        data = self.cleaned_data
        return stocktakes.stocktake_start(
            store=data["store"], category=data.get("category"), note=data.get("note") or "", actor=self.actor
        )


@admin.register(Stocktake)
class StocktakeAdmin(BackOfficeAdmin):
    form = StocktakeForm
    readers = selectors.STOCKTAKE_READERS
    change_permission = ADJUST_STOCK
    list_display = ["number", "store", "category", "status", "started_at", "finished_at", "variance_value"]
    list_filter = ["status", ReaderStoreFilter]
    list_select_related = ["store", "category"]
    search_fields = ["=number"]
    autocomplete_fields = ["store", "category"]
    inlines = [StocktakeLineInline]

    def task_url(self, stocktake):
        return reverse("backoffice-stocktake", args=[stocktake.store_id, stocktake.pk])

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(
            request
        )  # started here; counted on the task page

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["store", "category", "note"]
        return [
            "number",
            "task_page",
            "store",
            "category",
            "status",
            "note",
            "started_by",
            "started_at",
            "finished_by",
            "finished_at",
            "variance_quantity",
            "variance_value",
            "shrinkage_value",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)


# --- transfers --------------------------------------------------------------------------------


class TransferLineInline(ReadOnlyInline):
    model = TransferLine
    fields = ["product", "quantity", "received"]
    readonly_fields = fields


@admin.register(Transfer)
class TransferAdmin(BackOfficeAdmin):
    readers = selectors.TRANSFER_READERS
    store_fields = ("from_store_id", "to_store_id")
    change_permission = ""  # sent and received on the task pages
    list_display = ["number", "from_store", "to_store", "status", "sent_at", "received_at"]
    list_filter = ["status", ReaderStoreFilter]
    list_select_related = ["from_store", "to_store"]
    search_fields = ["=number"]
    inlines = [TransferLineInline]
    fields = [
        "number",
        "task_page",
        "from_store",
        "to_store",
        "status",
        "note",
        "sent_by",
        "sent_at",
        "received_by",
        "received_at",
        "discrepancy_note",
    ]
    readonly_fields = fields

    @admin.display(description=_("back office"))
    def task_page(self, transfer):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("backoffice-transfer", args=[transfer.from_store_id, transfer.pk]),
            transfer.from_store,
            reverse("backoffice-transfer", args=[transfer.to_store_id, transfer.pk]),
            transfer.to_store,
        )

    def has_add_permission(self, request):
        return False
