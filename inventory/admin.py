"""Inventory, sales, customers and the stock ledger in the tenant-scoped admin.

Every write calls the same service as the API, from a `ServiceForm` while the form is
validated: a refusal is a form error and the input is kept. Store choices and lists are
limited to the stores where the user holds the permission in question.
"""

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from accounts import authz
from accounts.admin_base import ServiceForm, ServiceFormAdmin, TenantModelAdmin, stores_for
from accounts.permissions import (
    ADJUST_STOCK,
    CREATE_CUSTOMERS,
    MANAGE_CUSTOMERS,
    MANAGE_PRODUCTS,
    MANAGE_SETTINGS,
    RECEIVE_STOCK,
    REFUND,
    TRANSFER_STOCK,
    VIEW_CUSTOMERS,
    VIEW_PRODUCTS,
    VIEW_SALES,
)
from core.errors import Conflict
from inventory import selectors
from inventory.importing import csv_rows, header_problems, product_import_create
from inventory.models import (
    Category,
    Customer,
    Payment,
    Product,
    ProductImport,
    Sale,
    SaleLine,
    StockLevel,
    StockMovement,
    Supplier,
)
from inventory.services.catalogue import (
    category_create,
    category_update,
    product_create,
    product_update,
    store_create,
    store_update,
    supplier_create,
    supplier_update,
)
from inventory.services.customers import customer_create, customer_update
from inventory.services.sales import sale_refund
from inventory.services.stock import stock_adjust, stock_count, stock_receive, stock_transfer
from tenants.models import Store

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class StoreListFilter(admin.SimpleListFilter):
    """Filter by store, offering only the stores the user may see."""

    title = "store"
    parameter_name = "store"
    permission = VIEW_PRODUCTS

    def lookups(self, request, model_admin):
        return [(str(s.pk), s.name) for s in stores_for(request.user, model_admin.store_permission)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            store_id = uuid.UUID(self.value())
        except ValueError:
            # Not a store id: the changelist answers as for any bad filter (`?e=1`), never 500.
            raise IncorrectLookupParameters(f"{self.value()[:50]!r} is not a store") from None
        return queryset.filter(store_id=store_id)


class StoreScopedAdmin(TenantModelAdmin):
    """Rows of the stores where the user holds `store_permission`."""

    store_permission = VIEW_PRODUCTS
    list_filter = [StoreListFilter]

    def get_queryset(self, request):
        stores = authz.store_ids(request.user, self.store_permission)
        queryset = super().get_queryset(request)
        return queryset if stores is authz.ALL_STORES else queryset.filter(store_id__in=stores)


# --- stores and catalogue -----------------------------------------------------------------


def _changes(form) -> dict:
    return {name: form.cleaned_data[name] for name in form.changed_data}


class StoreForm(ServiceForm):
    def run(self):
        if self.instance._state.adding:  # (its id has a default: pk is never None)
            return store_create(actor=self.actor, **self.cleaned_data)
        return store_update(store=self.instance, actor=self.actor, **_changes(self))


class CategoryForm(ServiceForm):
    def run(self):
        if self.instance._state.adding:
            return category_create(actor=self.actor, **self.cleaned_data)
        return category_update(category=self.instance, actor=self.actor, **_changes(self))


class SupplierForm(ServiceForm):
    def run(self):
        if self.instance._state.adding:
            return supplier_create(actor=self.actor, **self.cleaned_data)
        return supplier_update(supplier=self.instance, actor=self.actor, **_changes(self))


class ProductForm(ServiceForm):
    def run(self):
        if self.instance._state.adding:
            return product_create(actor=self.actor, **self.cleaned_data)
        return product_update(product=self.instance, actor=self.actor, **_changes(self))


@admin.register(Store)
class StoreAdmin(ServiceFormAdmin):
    form = StoreForm
    view_permission = VIEW_PRODUCTS
    change_permission = MANAGE_SETTINGS
    list_display = ["name", "code", "allow_negative_stock", "active"]
    search_fields = ["name", "code"]

    def get_queryset(self, request):
        return selectors.stores_visible_to(user=request.user)


@admin.register(Category)
class CategoryAdmin(ServiceFormAdmin):
    form = CategoryForm
    view_permission = VIEW_PRODUCTS
    change_permission = MANAGE_PRODUCTS
    list_display = ["name", "parent"]
    search_fields = ["name"]


@admin.register(Supplier)
class SupplierAdmin(ServiceFormAdmin):
    form = SupplierForm
    view_permission = VIEW_PRODUCTS
    change_permission = MANAGE_PRODUCTS
    list_display = ["name", "email", "phone"]
    search_fields = ["name"]


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with a header: sku,name,price and optionally barcode,description,cost,tax_rate,active,category"
    )


@admin.register(Product)
class ProductAdmin(ServiceFormAdmin):
    form = ProductForm
    view_permission = VIEW_PRODUCTS
    change_permission = MANAGE_PRODUCTS
    list_display = ["sku", "name", "price", "tax_rate", "active", "category"]
    list_filter = ["active", "category"]
    search_fields = ["sku", "name", "barcode"]
    list_select_related = ["category"]
    actions = ["make_active", "make_inactive"]
    change_list_template = "admin/inventory/product/change_list.html"

    def _set_active(self, request, queryset, active: bool):
        if not self.has_change_permission(request):
            raise PermissionDenied
        for product in queryset:
            product_update(product=product, actor=request.user, active=active)
        self.message_user(request, f"{queryset.count()} products changed.")

    @admin.action(description="Mark selected products active", permissions=["change"])
    def make_active(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Mark selected products inactive", permissions=["change"])
    def make_inactive(self, request, queryset):
        self._set_active(request, queryset, False)

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="inventory_product_import"),
            path(
                "import/<uuid:job_id>/",
                self.admin_site.admin_view(self.import_job_view),
                name="inventory_product_import_job",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """Check the file's size, encoding and header here; the rows are imported by a worker."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        problems = None
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_IMPORT_BYTES:
                problems = [f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB."]
            else:
                try:
                    text = upload.read().decode("utf-8-sig")
                    header, _ = csv_rows(text)
                except UnicodeDecodeError:
                    text, header, problems = "", [], ["The file is not UTF-8 text."]
                problems = problems or header_problems(header)
                if not problems:
                    job = product_import_create(actor=request.user, data=text, filename=upload.name or "")
                    return redirect("admin:inventory_product_import_job", job_id=job.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import products",
            "form": form,
            "problems": problems,
            "jobs": ProductImport.objects.filter(requested_by=request.user)[:10],
        }
        status = 400 if problems else 200
        return TemplateResponse(request, "admin/inventory/product/import.html", context, status=status)

    def import_job_view(self, request, job_id):
        """The job's percentage, refreshed by the page itself until it ends; then the refused rows."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        job = ProductImport.objects.filter(pk=job_id).first()
        if job is None:
            raise Http404("No such import.")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Product import",
            "job": job,
            "refused_more": max(0, job.failed - len(job.errors)),
        }
        return TemplateResponse(request, "admin/inventory/product/import_job.html", context)


class CustomerForm(ServiceForm):
    def run(self):
        adding = self.instance._state.adding
        contact = {
            name: self.cleaned_data[name] or "" for name in (self.fields if adding else self.changed_data)
        }
        if adding:
            return customer_create(actor=self.actor, **contact)
        return customer_update(customer=self.instance, actor=self.actor, **contact)


@admin.register(Customer)
class CustomerAdmin(ServiceFormAdmin):
    form = CustomerForm
    view_permission = VIEW_CUSTOMERS
    add_permission = CREATE_CUSTOMERS
    change_permission = MANAGE_CUSTOMERS
    list_display = ["__str__", "email", "phone", "created_at"]
    fields = ["name", "email", "phone", "notes"]
    search_fields = ["email_hash"]  # searched by exact e-mail or phone, below
    search_help_text = "Exact e-mail address or phone number (contact data is encrypted)."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        by_email = selectors.customer_find(queryset=queryset, email=term)
        by_phone = selectors.customer_find(queryset=queryset, phone=term)
        return by_email | by_phone, False


# --- stock --------------------------------------------------------------------------------


@admin.register(StockLevel)
class StockLevelAdmin(StoreScopedAdmin):
    view_permission = VIEW_PRODUCTS
    change_permission = ""  # levels change only through movements
    list_display = ["product", "store", "quantity", "reorder_point"]
    list_select_related = ["product", "store"]
    search_fields = ["product__sku", "product__name"]


class MovementForm(ServiceForm):
    """Receive, adjust, count or transfer; choices are filled per request (get_form)."""

    KINDS = [
        ("receive", "Receive"),
        ("adjust", "Adjust (signed)"),
        ("count", "Count"),
        ("transfer", "Transfer"),
    ]
    store = forms.ModelChoiceField(queryset=Store.unscoped.none())
    product = forms.ModelChoiceField(queryset=Product.unscoped.none())
    operation = forms.ChoiceField(choices=KINDS)
    amount = forms.IntegerField(label="Quantity")
    to_store = forms.ModelChoiceField(queryset=Store.unscoped.none(), required=False)

    class Meta:
        model = StockMovement
        fields = ["reason"]

    def run(self):
        data = self.cleaned_data
        common = {"store": data["store"], "product": data["product"], "actor": self.actor}
        operation, amount, reason = data["operation"], data["amount"], data.get("reason") or ""
        if operation == "receive":
            return stock_receive(**common, quantity=amount, reason=reason)
        if operation == "adjust":
            return stock_adjust(**common, quantity=amount, reason=reason)
        if operation == "count":
            return stock_count(**common, counted=amount, reason=reason)
        if data.get("to_store") is None:
            raise ValidationError({"to_store": "A transfer needs the store to send to."})
        out, _ = stock_transfer(
            from_store=data["store"],
            to_store=data["to_store"],
            product=data["product"],
            quantity=amount,
            actor=self.actor,
            reason=reason,
        )
        return out


@admin.register(StockMovement)
class StockMovementAdmin(ServiceFormAdmin, StoreScopedAdmin):
    view_permission = VIEW_SALES
    store_permission = VIEW_SALES
    form = MovementForm
    list_display = ["created_at", "store", "product", "kind", "quantity", "balance_after", "reason"]
    list_select_related = ["store", "product"]
    list_filter = [StoreListFilter, "kind"]
    search_fields = ["product__sku", "reason"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return any(authz.can(request.user, p) for p in (RECEIVE_STOCK, ADJUST_STOCK, TRANSFER_STOCK))

    def has_change_permission(self, request, obj=None):
        return False  # the ledger is never edited

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        stores = Store.objects.none()
        for permission in (RECEIVE_STOCK, ADJUST_STOCK, TRANSFER_STOCK):
            stores = stores | stores_for(request.user, permission)
        form.base_fields["store"].queryset = stores.distinct()
        form.base_fields["to_store"].queryset = Store.objects.all()
        form.base_fields["product"].queryset = Product.objects.filter(active=True)
        return form


# --- sales --------------------------------------------------------------------------------


class SaleLineInline(admin.TabularInline):
    model = SaleLine
    fields = [
        "sku",
        "name",
        "quantity",
        "unit_price",
        "tax_rate",
        "line_total",
        "line_tax",
        "refunded_quantity",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True  # the sale's own permission decides


class PaymentInline(SaleLineInline):
    model = Payment
    fields = ["method", "amount", "reference"]
    readonly_fields = fields


@admin.register(Sale)
class SaleAdmin(StoreScopedAdmin):
    view_permission = VIEW_SALES
    store_permission = VIEW_SALES
    list_display = ["receipt_number", "store", "created_at", "total", "status", "cashier"]
    list_select_related = ["store", "cashier"]
    list_filter = [StoreListFilter, "status"]
    search_fields = ["=receipt_number"]
    date_hierarchy = "created_at"
    inlines = [SaleLineInline, PaymentInline]
    readonly_fields = [
        "store",
        "receipt_number",
        "status",
        "customer",
        "cashier",
        "currency",
        "subtotal",
        "tax_total",
        "total",
        "paid",
        "change_due",
        "refunded_total",
        "created_at",
    ]
    fields = readonly_fields
    actions = ["refund_whole"]

    def has_add_permission(self, request):
        return False  # sales are rung up at the register or through the API

    def has_change_permission(self, request, obj=None):
        return False

    def has_refund_permission(self, request):
        return authz.can(request.user, REFUND)

    @admin.action(description="Refund the selected sales in full (restock)", permissions=["refund"])
    def refund_whole(self, request, queryset):
        done = 0
        for sale in queryset.select_related("store"):
            try:
                sale_refund(sale=sale, actor=request.user, reason="refunded in the admin")
                done += 1
            except (Conflict, PermissionDenied) as error:
                self.message_user(request, f"Receipt {sale.receipt_number}: {error}", messages.WARNING)
        self.message_user(request, f"{done} sales refunded.")
