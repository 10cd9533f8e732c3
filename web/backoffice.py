"""The back office's task pages at /backoffice/: receive a purchase order by scanning, count a
stocktake by scanning, send and receive a transfer, the reorder list, today's sales.

Server-rendered pages plus one small script (`web/static/web/backoffice.js`) that keeps a
scanned list in the page and posts it as JSON with the page's CSRF token, as the register
does. Every write goes through `backoffice.services` (which check the permission in the
store again); every read through `backoffice.selectors` and `inventory.selectors`. Each URL
names its store as `store_id`, so the access log records the store; an object of another
store (or tenant) answers 404, a store where the user lacks the permission 403.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import authz
from accounts.permissions import (
    ADJUST_STOCK,
    COUNT_STOCK,
    MANAGE_PURCHASING,
    RECEIVE_STOCK,
    TRANSFER_STOCK,
    VIEW_PRODUCTS,
    VIEW_SALES,
)
from backoffice import importing as count_import
from backoffice import selectors
from backoffice.models import PurchaseOrder, Stocktake, Transfer
from backoffice.services import purchasing, reorder, stocktakes, transfers
from core.errors import Conflict, DomainError, NotFound
from inventory import selectors as inventory_selectors
from inventory.models import Category, Supplier
from tenants.models import Store
from web.access import tenant_staff_required

# Anyone with one of these in a store may open its back office.
PAGE_PERMISSIONS = (
    VIEW_PRODUCTS,
    COUNT_STOCK,
    RECEIVE_STOCK,
    TRANSFER_STOCK,
    MANAGE_PURCHASING,
    ADJUST_STOCK,
)
SEARCH_LIMIT = 20
MAX_BODY_LINES = 5000
MAX_COUNT_UPLOAD = 1000 * 1000  # it travels back in a form field to be applied (DATA_UPLOAD_MAX_MEMORY_SIZE)


def _store(request, store_id, *permissions) -> Store:
    """The store named in the URL: 404 if it is not the tenant's, 403 without one of `permissions`."""
    store = inventory_selectors.store_get(store_id=store_id)
    if not any(authz.can(request.user, permission, store) for permission in permissions):
        raise PermissionDenied(_("You may not do this in %(store)s.") % {"store": store.name})
    return store


def _can(request, permission, store) -> bool:
    return authz.can(request.user, permission, store)


def _page(request, template: str, store: Store, current: str, context: dict, status: int = 200):
    """Render a task page with the store's tabs (each shown only with its permission)."""
    tabs = [("store", reverse("backoffice-store", args=[store.pk]), _("Overview"), True)]
    tabs.append(
        (
            "reorder",
            reverse("backoffice-reorder", args=[store.pk]),
            _("Reorder list"),
            _can(request, VIEW_PRODUCTS, store),
        )
    )
    tabs.append(
        (
            "sales",
            reverse("backoffice-sales-today", args=[store.pk]),
            _("Today's sales"),
            _can(request, VIEW_SALES, store),
        )
    )
    context["tabs"] = [
        {"url": url, "label": label, "current": name == current} for name, url, label, shown in tabs if shown
    ]
    return render(request, template, {"store": store, **context}, status=status)


def _json_error(status: int, code: str, detail: str, fields: dict | None = None) -> JsonResponse:
    body: dict = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def _json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise ValidationError({"body": _("The request was not JSON.")}) from None
    if not isinstance(body, dict):
        raise ValidationError({"body": _("Expected a JSON object.")})
    return body


def _json_write(work):
    """Run `work()` and answer its JSON, or the refusal in the API's error shape."""
    try:
        return JsonResponse(work())
    except ValidationError as error:
        fields = (
            {name: " ".join(map(str, problems)) for name, problems in error.message_dict.items()}
            if hasattr(error, "error_dict")
            else {"body": " ".join(error.messages)}
        )
        return _json_error(400, "invalid", " ".join(fields.values()), fields)
    except PermissionDenied as error:
        return _json_error(403, "permission_denied", str(error) or _("You may not do this."))
    except NotFound:
        return _json_error(404, "not_found", _("Not found."))
    except Conflict as error:
        return _json_error(409, error.code, str(error.detail))
    except DomainError as error:
        return _json_error(400, error.code, str(error.detail))


def _whole(value, field: str, *, minimum: int = 0, maximum: int = 1_000_000) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ValidationError(
            {field: _("Enter a whole number from %(min)d to %(max)d.") % {"min": minimum, "max": maximum}}
        )
    return value


def _items(body: dict, key: str = "lines") -> list[dict]:
    items = body.get(key)
    if (
        not isinstance(items, list)
        or len(items) > MAX_BODY_LINES
        or not all(isinstance(i, dict) for i in items)
    ):
        raise ValidationError({key: _("Expected a list of lines.")})
    return items


def _products(items: list[dict], field: str = "lines") -> dict:
    """The products the items name (`product`), in one query: id text -> product."""
    wanted = set()
    for item in items:
        try:
            wanted.add(str(uuid.UUID(str(item.get("product")))))
        except ValueError:
            raise ValidationError({field: _("No such product.")}) from None
    found = {str(p.pk): p for p in inventory_selectors.product_list().filter(pk__in=wanted)}
    if len(found) != len(wanted):
        raise ValidationError({field: _("No such product.")})
    return found


def _product(products: dict, item: dict):
    return products[str(uuid.UUID(str(item.get("product"))))]


def _money(value, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).replace(",", ".").strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal("1000000"):
        raise ValidationError({field: _("Enter an amount, 0 or more.")})
    return amount.quantize(Decimal("0.01"))


def _product_json(product, **extra) -> dict:
    return {
        "id": str(product.pk),
        "sku": product.sku,
        "barcode": product.barcode,
        "name": product.name,
        "cost": str(product.cost),
        **extra,
    }


# --- the store's back office ------------------------------------------------------------------


@tenant_staff_required
@require_GET
def store_choose(request):
    stores = [
        store
        for store in inventory_selectors.stores_visible_to(user=request.user).filter(active=True)
        if any(_can(request, permission, store) for permission in PAGE_PERMISSIONS)
    ]
    if not stores:
        raise PermissionDenied(_("You have no store's back office to open."))
    if len(stores) == 1:
        return redirect("backoffice-store", store_id=stores[0].pk)
    return render(request, "web/backoffice/choose_store.html", {"stores": stores})


@tenant_staff_required
@require_GET
def store_home(request, store_id):
    store = _store(request, store_id, *PAGE_PERMISSIONS)
    counting = Stocktake.objects.filter(store=store, status=Stocktake.Status.COUNTING).first()
    transfers_in = Transfer.objects.filter(to_store=store, status=Transfer.Status.IN_TRANSIT).select_related(
        "from_store"
    )
    context = {
        "store": store,
        "orders": selectors.store_purchase_orders_open(store=store).order_by("-number")[:30],
        "stocktake": counting,
        "stocktake_progress": selectors.stocktake_progress(stocktake=counting) if counting else None,
        "stocktakes": selectors.store_stocktakes_recent(store=store, limit=5),
        "transfers_in": transfers_in,
        "transfers": selectors.store_transfers_recent(store=store, limit=8, awaited=False),
        "suppliers": Supplier.objects.order_by("name"),
        "categories": Category.objects.order_by("name"),
        "can": {
            "purchase": _can(request, MANAGE_PURCHASING, store),
            "receive": _can(request, RECEIVE_STOCK, store),
            "count": _can(request, COUNT_STOCK, store),
            "adjust": _can(request, ADJUST_STOCK, store),
            "transfer": _can(request, TRANSFER_STOCK, store),
            "view": _can(request, VIEW_PRODUCTS, store),
            "sales": _can(request, VIEW_SALES, store),
        },
        "other_stores": inventory_selectors.stores_visible_to(user=request.user)
        .exclude(pk=store.pk)
        .exists(),
    }
    return _page(request, "web/backoffice/store.html", store, "store", context)


@tenant_staff_required
@require_GET
def product_lookup(request, store_id):
    """Products matching a scanned barcode or SKU exactly (first), else by name; with the store's stock."""
    store = _store(request, store_id, *PAGE_PERMISSIONS)
    text = request.GET.get("q", "").strip()[:100]
    if not text:
        return JsonResponse({"results": [], "exact": False})
    products = inventory_selectors.product_list()
    exact = list(products.filter(barcode=text)[:2]) or list(products.filter(sku__iexact=text)[:2])
    found = (
        exact
        if len(exact) == 1
        else list(
            inventory_selectors.product_search(queryset=products.filter(active=True), text=text)[
                :SEARCH_LIMIT
            ]
        )
    )
    stock = inventory_selectors.stock_quantities(store=store, products=found)
    return JsonResponse(
        {
            "exact": len(exact) == 1,
            "results": [_product_json(product, stock=stock.get(product.pk, 0)) for product in found],
        }
    )


# --- purchase orders --------------------------------------------------------------------------


@tenant_staff_required
@require_POST
def order_create(request, store_id):
    store = _store(request, store_id, MANAGE_PURCHASING)
    try:
        supplier = inventory_selectors.supplier_get(supplier_id=request.POST.get("supplier"))
        order = purchasing.purchase_order_create(supplier=supplier, store=store, lines=[], actor=request.user)
    except NotFound:
        messages.error(request, _("Choose a supplier."))
        return redirect("backoffice-store", store_id=store.pk)
    return redirect("backoffice-order", store_id=store.pk, order_id=order.pk)


def _order_context(request, store, order) -> dict:
    lines = selectors.purchase_order_lines(order=order)
    return {
        "store": store,
        "order": order,
        "lines": lines,
        "total": sum((line.quantity * line.unit_cost for line in lines), Decimal("0.00")),
        "can_edit": order.status == PurchaseOrder.Status.DRAFT and _can(request, MANAGE_PURCHASING, store),
        "can_cancel": order.is_open and _can(request, MANAGE_PURCHASING, store),
        "can_receive": order.status in PurchaseOrder.RECEIVABLE and _can(request, RECEIVE_STOCK, store),
    }


@tenant_staff_required
@require_GET
def order_page(request, store_id, order_id):
    """A purchase order: edited by scanning while a draft; the supplier's document (printable) always."""
    store = _store(request, store_id, *selectors.PURCHASE_READERS)
    order = selectors.store_purchase_order_get(store=store, order_id=order_id)
    context = _order_context(request, store, order)
    context["lines_json"] = [
        _product_json(line.product, quantity=line.quantity, unit_cost=str(line.unit_cost))
        for line in context["lines"]
    ]
    context["strings"] = _scan_strings()
    return _page(request, "web/backoffice/order.html", store, "", context)


@tenant_staff_required
@require_POST
def order_lines_save(request, store_id, order_id):
    store = _store(request, store_id, MANAGE_PURCHASING)
    order = selectors.store_purchase_order_get(store=store, order_id=order_id)

    def work():
        body = _json_body(request)
        items = _items(body)
        products = _products(items)
        lines = [
            purchasing.OrderLineInput(
                product=_product(products, item),
                quantity=_whole(item.get("quantity"), "lines", minimum=1),
                unit_cost=_money(item.get("unit_cost"), "lines"),
            )
            for item in items
        ]
        notes = body.get("notes")
        changed = purchasing.purchase_order_update(
            order=order,
            lines=lines,
            notes=str(notes)[:2000] if notes is not None else None,
            actor=request.user,
        )
        return {"id": str(changed.pk), "total": str(changed.total)}

    return _json_write(work)


@tenant_staff_required
@require_POST
def order_order(request, store_id, order_id):
    store = _store(request, store_id, MANAGE_PURCHASING)
    order = selectors.store_purchase_order_get(store=store, order_id=order_id)
    try:
        purchasing.purchase_order_order(order=order, actor=request.user)
        messages.success(request, _("PO %(number)s is ordered.") % {"number": order.number})
    except (ValidationError, Conflict) as error:
        messages.error(
            request, " ".join(error.messages) if isinstance(error, ValidationError) else error.detail
        )
    return redirect("backoffice-order", store_id=store.pk, order_id=order.pk)


@tenant_staff_required
@require_POST
def order_cancel(request, store_id, order_id):
    store = _store(request, store_id, MANAGE_PURCHASING)
    order = selectors.store_purchase_order_get(store=store, order_id=order_id)
    try:
        purchasing.purchase_order_cancel(order=order, actor=request.user)
        messages.success(request, _("PO %(number)s is cancelled.") % {"number": order.number})
    except Conflict as error:
        messages.error(request, error.detail)
    return redirect("backoffice-order", store_id=store.pk, order_id=order.pk)


@tenant_staff_required
def order_receive(request, store_id, order_id):
    """GET: the delivery page (scan what arrived); POST (JSON): receive it."""
    store = _store(request, store_id, RECEIVE_STOCK)
    order = selectors.store_purchase_order_get(store=store, order_id=order_id)
    if request.method == "POST":
        return _json_write(lambda: _receive(request, store, order))
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    context = _order_context(request, store, order)
    context["strings"] = _scan_strings()
    context["lines_json"] = [
        _product_json(line.product, line=str(line.pk), outstanding=line.outstanding, received=line.received)
        for line in context["lines"]
    ]
    return _page(request, "web/backoffice/order_receive.html", store, "", context)


def _receive(request, store, order) -> dict:
    body = _json_body(request)
    lines = {str(line.pk): line for line in order.lines.all()}
    wanted = []
    for item in _items(body):
        line = lines.get(str(item.get("line")))
        if line is None:
            raise ValidationError({"lines": _("Not a line of this order.")})
        quantity = _whole(item.get("quantity"), "lines")
        if quantity:
            wanted.append(purchasing.ReceiveLineInput(line=line, quantity=quantity))
    purchasing.purchase_order_receive(
        order=order, lines=wanted, note=str(body.get("note") or "")[:500], actor=request.user
    )
    order.refresh_from_db()
    messages.success(
        request,
        _("Received against PO %(number)s: %(status)s.")
        % {"number": order.number, "status": order.get_status_display()},
    )
    return {"status": order.status, "url": reverse("backoffice-order", args=[store.pk, order.pk])}


@tenant_staff_required
@require_GET
def order_document(request, store_id, order_id):
    """The purchase order as CSV, for the supplier."""
    store = _store(request, store_id, *selectors.PURCHASE_READERS)
    order = selectors.store_purchase_order_get(store=store, order_id=order_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("PO"), order.number, _("Supplier"), order.supplier.name, _("Deliver to"), store.name])
    writer.writerow([_("SKU"), _("Barcode"), _("Product"), _("Quantity"), _("Unit cost"), _("Total")])
    for line in selectors.purchase_order_lines(order=order):
        writer.writerow(
            [
                _cell(line.product.sku),
                _cell(line.product.barcode),
                _cell(line.product.name),
                line.quantity,
                line.unit_cost,
                line.quantity * line.unit_cost,
            ]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="po-{order.number}.csv"'
    return response


def _cell(value: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return (
        "'" + value
        if value[:1] in ("=", "+", "-", "@", "|", "%") or (value[:1] and ord(value[0]) < 32)
        else value
    )


# --- stocktakes -------------------------------------------------------------------------------


@tenant_staff_required
@require_POST
def stocktake_start(request, store_id):
    store = _store(request, store_id, ADJUST_STOCK)
    category = None
    if request.POST.get("category"):
        try:
            category = Category.objects.filter(pk=request.POST["category"]).first()
        except ValidationError:
            category = None
        if category is None:
            messages.error(request, _("No such category."))
            return redirect("backoffice-store", store_id=store.pk)
    try:
        stocktake = stocktakes.stocktake_start(
            store=store, category=category, note=request.POST.get("note", "")[:500], actor=request.user
        )
    except Conflict as error:
        messages.error(request, error.detail)
        return redirect("backoffice-store", store_id=store.pk)
    return redirect("backoffice-stocktake", store_id=store.pk, stocktake_id=stocktake.pk)


def _line_json(line) -> dict:
    return {
        **_product_json(line.product),
        "line": str(line.pk),
        "counted": line.counted,
        "counted_by": line.counted_by.username if line.counted_by else "",
        "counted_at": line.counted_at.isoformat() if line.counted_at else "",
    }


@tenant_staff_required
@require_GET
def stocktake_page(request, store_id, stocktake_id):
    """Counting by scanning while the stocktake runs; its variance report once finished."""
    store = _store(request, store_id, *selectors.STOCKTAKE_READERS)
    stocktake = selectors.store_stocktake_get(store=store, stocktake_id=stocktake_id)
    counting = stocktake.status == Stocktake.Status.COUNTING
    context = {
        "store": store,
        "stocktake": stocktake,
        "progress": selectors.stocktake_progress(stocktake=stocktake),
        "can_count": counting and _can(request, COUNT_STOCK, store),
        "can_finish": counting and _can(request, ADJUST_STOCK, store),
        "strings": _scan_strings(),
    }
    if not counting:
        lines = list(selectors.stocktake_lines(stocktake=stocktake))
        context["differences"] = [line for line in lines if line.difference]
        context["uncounted"] = [line for line in lines if line.counted is None]
        context["matching"] = sum(1 for line in lines if line.difference == 0)
    return _page(request, "web/backoffice/stocktake.html", store, "", context)


@tenant_staff_required
@require_GET
def stocktake_lookup(request, store_id, stocktake_id):
    """The stocktake's lines matching a scanned code exactly, else by name: expected and last count."""
    store = _store(request, store_id, *selectors.STOCKTAKE_READERS)
    stocktake = selectors.store_stocktake_get(store=store, stocktake_id=stocktake_id)
    text = request.GET.get("q", "").strip()[:100]
    lines = selectors.stocktake_lines(stocktake=stocktake)
    if not text:
        return JsonResponse({"results": [], "exact": False})
    exact = list(lines.filter(product__barcode=text)[:2]) or list(lines.filter(product__sku__iexact=text)[:2])
    found = exact if len(exact) == 1 else list(lines.filter(product__name__icontains=text)[:SEARCH_LIMIT])
    return JsonResponse({"exact": len(exact) == 1, "results": [_line_json(line) for line in found]})


@tenant_staff_required
@require_POST
def stocktake_counts(request, store_id, stocktake_id):
    store = _store(request, store_id, COUNT_STOCK)
    stocktake = selectors.store_stocktake_get(store=store, stocktake_id=stocktake_id)

    def work():
        items = _items(_json_body(request), "counts")
        products = _products(items, "counts")
        counts = [
            stocktakes.CountInput(
                product=_product(products, item),
                counted=_whole(item.get("counted"), "counts", maximum=10_000_000),
            )
            for item in items
        ]
        lines = stocktakes.stocktake_count(stocktake=stocktake, counts=counts, actor=request.user)
        progress = selectors.stocktake_progress(stocktake=stocktake)
        return {
            "lines": [_line_json(line) for line in lines],
            "progress": {"lines": progress.lines, "counted": progress.counted, "percent": progress.percent},
        }

    return _json_write(work)


@tenant_staff_required
@require_POST
def stocktake_finish(request, store_id, stocktake_id):
    store = _store(request, store_id, ADJUST_STOCK)
    stocktake = selectors.store_stocktake_get(store=store, stocktake_id=stocktake_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm: finishing writes the differences to the stock."))
        return redirect("backoffice-stocktake", store_id=store.pk, stocktake_id=stocktake.pk)
    uncounted = request.POST.get("uncounted", stocktakes.UNCOUNTED_KEEP)
    try:
        stocktakes.stocktake_finish(stocktake=stocktake, uncounted=uncounted, actor=request.user)
        messages.success(request, _("Stocktake %(number)s is finished.") % {"number": stocktake.number})
    except (Conflict, ValidationError) as error:
        messages.error(
            request, " ".join(error.messages) if isinstance(error, ValidationError) else error.detail
        )
    return redirect("backoffice-stocktake", store_id=store.pk, stocktake_id=stocktake.pk)


@tenant_staff_required
@require_POST
def stocktake_cancel(request, store_id, stocktake_id):
    store = _store(request, store_id, ADJUST_STOCK)
    stocktake = selectors.store_stocktake_get(store=store, stocktake_id=stocktake_id)
    try:
        stocktakes.stocktake_cancel(stocktake=stocktake, actor=request.user)
        messages.success(request, _("Stocktake %(number)s is cancelled.") % {"number": stocktake.number})
    except Conflict as error:
        messages.error(request, error.detail)
    return redirect("backoffice-store", store_id=store.pk)


@tenant_staff_required
@require_GET
def stocktake_report(request, store_id, stocktake_id):
    """The variance report as CSV."""
    store = _store(request, store_id, *selectors.STOCKTAKE_READERS)
    stocktake = selectors.store_stocktake_get(store=store, stocktake_id=stocktake_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("SKU"),
            _("Product"),
            _("Expected"),
            _("Stock when counted"),
            _("Counted"),
            _("Counted by"),
            _("Difference"),
            _("Unit cost"),
            _("Value"),
        ]
    )
    for line in selectors.stocktake_lines(stocktake=stocktake):
        writer.writerow(
            [
                _cell(line.product.sku),
                _cell(line.product.name),
                line.expected,
                "" if line.stock_at_count is None else line.stock_at_count,
                "" if line.counted is None else line.counted,
                _cell(line.counted_by.username) if line.counted_by else "",
                "" if line.difference is None else line.difference,
                "" if line.unit_cost is None else line.unit_cost,
                "" if line.value is None else line.value,
            ]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="stocktake-{stocktake.number}.csv"'
    return response


@tenant_staff_required
@require_POST
def stocktake_import(request, store_id, stocktake_id):
    """A stock-count CSV (sku or barcode, counted): a dry run shows what would change; applying it counts."""
    store = _store(request, store_id, COUNT_STOCK)
    stocktake = selectors.store_stocktake_get(store=store, stocktake_id=stocktake_id)
    upload = request.FILES.get("file")
    apply = request.POST.get("apply") == "yes"
    back = redirect("backoffice-stocktake", store_id=store.pk, stocktake_id=stocktake.pk)
    if upload is not None:
        if upload.size > MAX_COUNT_UPLOAD:
            messages.error(request, _("Choose a CSV file of at most 1 MB."))
            return back
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            messages.error(request, _("The file is not UTF-8 text."))
            return back
        filename = upload.name or ""
    elif apply and request.POST.get("data"):  # the file the dry run showed, sent back to be applied
        text, filename = request.POST["data"], request.POST.get("filename", "")[:200]
    else:
        messages.error(request, _("Choose a CSV file of at most 1 MB."))
        return back
    try:
        result = count_import.counts_import(
            stocktake=stocktake,
            data=text,
            actor=request.user,
            dry_run=not apply,
            locale=request.tenant.locale,
        )
    except (ValidationError, Conflict) as error:
        messages.error(
            request, " ".join(error.messages) if isinstance(error, ValidationError) else error.detail
        )
        return back
    context = {
        "stocktake": stocktake,
        "result": result,
        "data": text if not apply else "",
        "applied": apply,
        "filename": filename,
    }
    return _page(request, "web/backoffice/stocktake_import.html", store, "", context)


# --- transfers --------------------------------------------------------------------------------


@tenant_staff_required
def transfer_new(request, store_id):
    """GET: the send page (scan what goes); POST (JSON): send it."""
    store = _store(request, store_id, TRANSFER_STOCK)
    if request.method == "POST":
        return _json_write(lambda: _send(request, store))
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    destinations = Store.objects.filter(active=True).exclude(pk=store.pk).order_by("name")
    context = {"destinations": destinations, "strings": _scan_strings()}
    return _page(request, "web/backoffice/transfer_new.html", store, "", context)


def _send(request, store) -> dict:
    body = _json_body(request)
    try:
        destination = inventory_selectors.store_get(store_id=body.get("to_store"))
    except NotFound:
        raise ValidationError({"to_store": _("Choose the store to send to.")}) from None
    items = _items(body)
    products = _products(items)
    lines = [
        transfers.TransferLineInput(
            product=_product(products, item), quantity=_whole(item.get("quantity"), "lines", minimum=1)
        )
        for item in items
    ]
    transfer = transfers.transfer_send(
        from_store=store,
        to_store=destination,
        lines=lines,
        note=str(body.get("note") or "")[:500],
        actor=request.user,
    )
    messages.success(request, _("Transfer %(number)s is on its way.") % {"number": transfer.number})
    return {"id": str(transfer.pk), "url": reverse("backoffice-transfer", args=[store.pk, transfer.pk])}


@tenant_staff_required
@require_GET
def transfer_page(request, store_id, transfer_id):
    """A transfer; at its destination while in transit, the arrival page (scan what came)."""
    store = _store(request, store_id, *selectors.TRANSFER_READERS)
    transfer = selectors.store_transfer_get(store=store, transfer_id=transfer_id)
    lines = list(transfer.lines.select_related("product").order_by("product__sku"))
    can_receive = (
        transfer.status == Transfer.Status.IN_TRANSIT
        and transfer.to_store_id == store.pk
        and _can(request, RECEIVE_STOCK, store)
    )
    return _page(
        request,
        "web/backoffice/transfer.html",
        store,
        "",
        {
            "transfer": transfer,
            "lines": lines,
            "can_receive": can_receive,
            "lines_json": [
                _product_json(line.product, line=str(line.pk), sent=line.quantity) for line in lines
            ],
            "strings": _scan_strings(),
        },
    )


@tenant_staff_required
@require_POST
def transfer_receive(request, store_id, transfer_id):
    store = _store(request, store_id, RECEIVE_STOCK)
    transfer = selectors.store_transfer_get(store=store, transfer_id=transfer_id)

    def work():
        if transfer.to_store_id != store.pk:
            raise PermissionDenied(_("Only the destination receives a transfer."))
        body = _json_body(request)
        lines = {str(line.pk): line for line in transfer.lines.all()}
        arrivals = []
        for item in _items(body):
            line = lines.get(str(item.get("line")))
            if line is None:
                raise ValidationError({"lines": _("Not a line of this transfer.")})
            arrivals.append(transfers.ArrivalInput(line=line, quantity=_whole(item.get("quantity"), "lines")))
        received = transfers.transfer_receive(
            transfer=transfer, arrivals=arrivals, note=str(body.get("note") or ""), actor=request.user
        )
        messages.success(request, _("Transfer %(number)s is received.") % {"number": received.number})
        return {
            "status": received.status,
            "url": reverse("backoffice-transfer", args=[store.pk, received.pk]),
        }

    return _json_write(work)


# --- reorder and today's sales ----------------------------------------------------------------


@tenant_staff_required
def reorder_page(request, store_id):
    """GET: what to order, by supplier; POST: draft purchase orders from it (all suppliers or one)."""
    store = _store(request, store_id, VIEW_PRODUCTS)
    if request.method == "POST":
        suppliers = None
        if request.POST.get("supplier"):
            try:
                suppliers = [inventory_selectors.supplier_get(supplier_id=request.POST["supplier"])]
            except NotFound:
                messages.error(request, _("No such supplier."))
                return redirect("backoffice-reorder", store_id=store.pk)
        orders = reorder.reorder_orders_create(store=store, suppliers=suppliers, actor=request.user)
        if orders:
            numbers = ", ".join(str(order.number) for order in orders)
            messages.success(request, _("Draft purchase orders made: %(numbers)s.") % {"numbers": numbers})
        else:
            messages.info(request, _("Nothing to order."))
        return redirect("backoffice-reorder", store_id=store.pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    return _page(
        request,
        "web/backoffice/reorder.html",
        store,
        "reorder",
        {
            "groups": selectors.reorder_list(user=request.user, store=store),
            "drafts": selectors.store_purchase_orders_open(store=store).filter(
                status=PurchaseOrder.Status.DRAFT
            ),
            "can_order": _can(request, MANAGE_PURCHASING, store),
        },
    )


@tenant_staff_required
@require_GET
def sales_today(request, store_id):
    store = _store(request, store_id, VIEW_SALES)
    summary = selectors.sales_summary(store=store)
    peak = max((total for _hour, total in summary.hours), default=Decimal(0))
    hours = [
        {"hour": hour, "total": total, "percent": int(total * 100 / peak) if peak else 0}
        for hour, total in summary.hours
    ]
    return render(
        request, "web/backoffice/sales_today.html", {"store": store, "summary": summary, "hours": hours}
    )


def _scan_strings() -> dict:
    """The scanning script's messages, translated here (it has none of its own)."""
    return {
        "not_found": _("Nothing matches “%s”."),
        "not_on_list": _("“%s” is not on this list."),
        "choose": _("Several products match: choose one."),
        "offline": _("Could not reach the server; nothing was saved."),
        "working": _("Looking up…"),
        "saving": _("Saving…"),
        "saved": _("Saved."),
        "unsaved": _("Not saved yet."),
        "failed": _("Not saved: %s"),
        "empty": _("Nothing scanned yet."),
        "remove": _("Remove"),
        "over": _("More than expected"),
        "short_note": _("Less arrived than was sent: write what happened in the note."),
        "leave": _("You have unsaved changes."),
        "by": _("by"),
        "in_stock": _("in stock"),
    }
