"""The register: server-rendered pages and a few thin JSON views for its script.

Every write goes through `inventory.services.sales` (`sale_create`, `sale_refund`), every read
through `inventory.selectors`, exactly as the API does; the services check the permission in
the store again. Each URL names its store as `store_id`, so the access log records the store
and store managers see the register's requests in their logs.
"""

import json
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import authz
from accounts.permissions import REFUND, SELL, VIEW_SALES
from core.errors import Conflict, NotFound
from inventory import selectors
from inventory.errors import InsufficientStock
from inventory.models import Payment
from inventory.services import sales
from tenants.models import Store
from web.access import tenant_staff_required

SEARCH_LIMIT = 20
MAX_LINES = 200
MAX_QUANTITY = 9999
REGISTER_METHODS = (Payment.Method.CASH, Payment.Method.CARD)


def _store(request, store_id, *permissions) -> Store:
    """The store named in the URL: 404 if it is not the tenant's, 403 without one of `permissions`."""
    store = selectors.store_get(store_id=store_id)
    if not any(authz.can(request.user, permission, store) for permission in permissions):
        raise PermissionDenied(_("You may not do this in %(store)s.") % {"store": store.name})
    return store


def _json_error(status: int, code: str, detail: str, fields: dict | None = None) -> JsonResponse:
    body = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


@tenant_staff_required
@require_GET
def store_choose(request):
    if not authz.can(request.user, SELL):
        raise PermissionDenied(_("You may not sell in any store."))
    stores = list(selectors.stores_open_to(user=request.user, permission=SELL))
    if len(stores) == 1:
        return redirect("pos-register", store_id=stores[0].pk)
    return render(request, "pos/choose_store.html", {"stores": stores})


@tenant_staff_required
@require_GET
def register(request, store_id):
    store = _store(request, store_id, SELL)
    recent = selectors.store_sales_recent(store=store, limit=8)
    open_stores = selectors.stores_open_to(user=request.user, permission=SELL)
    return render(
        request,
        "pos/register.html",
        {
            "store": store,
            "recent": recent,
            "currency": sales.currency(),
            "can_refund": authz.can(request.user, REFUND, store),
            "other_stores": open_stores.exclude(pk=store.pk).exists(),
            "strings": {
                "not_found": _("Nothing matches “%s”."),
                "choose": _("Several products match: choose one."),
                "empty": _("The basket is empty."),
                "short": _("The cash received does not cover the total."),
                "failed": _("The sale was not recorded: %s"),
                "offline": _("The register could not reach the server; nothing was recorded."),
                "remove": _("Remove"),
                "less": _("One less"),
                "more": _("One more"),
                "in_stock": _("in stock"),
            },
        },
    )


@tenant_staff_required
@require_GET
def product_lookup(request, store_id):
    """Products matching a scanned barcode or SKU exactly (first), else by name."""
    store = _store(request, store_id, SELL)
    text = request.GET.get("q", "").strip()[:100]
    if not text:
        return JsonResponse({"results": [], "exact": False})
    active = selectors.product_list().filter(active=True)
    exact = list(active.filter(barcode=text)[:2]) or list(active.filter(sku__iexact=text)[:2])
    products = (
        exact
        if len(exact) == 1
        else list(selectors.product_search(queryset=active, text=text)[:SEARCH_LIMIT])
    )
    stock = selectors.stock_quantities(store=store, products=products)
    return JsonResponse(
        {
            "exact": len(exact) == 1,
            "results": [
                {
                    "id": str(product.pk),
                    "sku": product.sku,
                    "barcode": product.barcode,
                    "name": product.name,
                    "price": str(product.price),
                    "tax_rate": str(product.tax_rate),
                    "stock": stock.get(product.pk, 0),
                }
                for product in products
            ],
        }
    )


def _sale_input(body: dict):
    """Lines and payments from the register's JSON; ValidationError names the first bad field."""
    if not isinstance(body, dict):
        raise ValidationError({"body": _("Expected a JSON object.")})
    raw_lines, raw_payments = body.get("lines"), body.get("payments")
    if not isinstance(raw_lines, list) or not raw_lines or len(raw_lines) > MAX_LINES:
        raise ValidationError({"lines": _("A sale needs between 1 and %(n)d lines.") % {"n": MAX_LINES}})
    lines = []
    for index, item in enumerate(raw_lines, start=1):
        quantity = item.get("quantity") if isinstance(item, dict) else None
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= MAX_QUANTITY:
            raise ValidationError({"lines": _("Line %(n)d: the quantity must be 1 to 9999.") % {"n": index}})
        try:
            product = selectors.product_get(product_id=item.get("product"))
        except NotFound:
            raise ValidationError({"lines": _("Line %(n)d: no such product.") % {"n": index}}) from None
        lines.append({"product": product, "quantity": quantity})
    if not isinstance(raw_payments, list) or not raw_payments or len(raw_payments) > 4:
        raise ValidationError({"payments": _("Take a payment.")})
    payments = []
    for index, item in enumerate(raw_payments, start=1):
        if not isinstance(item, dict) or item.get("method") not in REGISTER_METHODS:
            raise ValidationError({"payments": _("Payment %(n)d: cash or card.") % {"n": index}})
        try:
            amount = Decimal(str(item.get("amount")))
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount <= 0 or amount > Decimal("1000000"):
            raise ValidationError({"payments": _("Payment %(n)d: enter an amount.") % {"n": index}})
        reference = str(item.get("reference") or "")[:64]
        payments.append({"method": item["method"], "amount": amount, "reference": reference})
    return sales.sale_inputs(lines=lines, payments=payments)


@tenant_staff_required
@require_POST
def sale_create(request, store_id):
    store = _store(request, store_id, SELL)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return _json_error(400, "invalid", _("The request was not JSON."))
    try:
        lines, payments = _sale_input(body)
        sale = sales.sale_create(store=store, lines=lines, payments=payments, actor=request.user)
    except ValidationError as error:
        fields = {name: " ".join(map(str, problems)) for name, problems in error.message_dict.items()}
        return _json_error(400, "invalid", " ".join(fields.values()), fields)
    except InsufficientStock as error:
        return _json_error(409, "insufficient_stock", str(error.detail))
    return JsonResponse(
        {
            "id": str(sale.pk),
            "receipt_number": sale.receipt_number,
            "total": str(sale.total),
            "change_due": str(sale.change_due),
            "receipt_url": reverse("pos-receipt", kwargs={"store_id": store.pk, "sale_id": sale.pk}),
        },
        status=201,
    )


@tenant_staff_required
@require_GET
def receipt(request, store_id, sale_id):
    store = _store(request, store_id, SELL, REFUND, VIEW_SALES)
    sale = selectors.store_sale_get(store=store, sale_id=sale_id)
    return _receipt_page(request, store, sale)


def _receipt_page(request, store, sale, error: str = "", status: int = 200):
    lines = list(sale.lines.all())
    for line in lines:
        line.refundable = line.quantity - line.refunded_quantity
    return render(
        request,
        "pos/receipt.html",
        {
            "store": store,
            "sale": sale,
            "lines": lines,
            "payments": list(sale.payments.all()),
            "refunds": list(sale.refunds.all()),
            "can_refund": authz.can(request.user, REFUND, store) and any(line.refundable for line in lines),
            "can_sell": authz.can(request.user, SELL, store),
            "error": error,
        },
        status=status,
    )


@tenant_staff_required
@require_GET
def receipt_find(request, store_id):
    store = _store(request, store_id, SELL, REFUND, VIEW_SALES)
    number = request.GET.get("number", "").strip().lstrip("#")
    sale = (
        selectors.store_sale_by_receipt_number(store=store, receipt_number=int(number))
        if number.isdigit()
        else None
    )
    if sale is None:
        messages.error(request, _("No receipt %(number)s in this store.") % {"number": number[:20]})
        return redirect("pos-register", store_id=store.pk)
    return redirect("pos-receipt", store_id=store.pk, sale_id=sale.pk)


@tenant_staff_required
@require_POST
def sale_refund(request, store_id, sale_id):
    store = _store(request, store_id, REFUND)
    sale = selectors.store_sale_get(store=store, sale_id=sale_id)
    wanted = []
    try:
        for line in sale.lines.all():
            raw = request.POST.get(f"line-{line.pk}", "0").strip() or "0"
            if not raw.isdigit():
                raise ValidationError({"lines": _("%(sku)s: enter a whole number.") % {"sku": line.sku}})
            if int(raw) > 0:
                wanted.append(sales.RefundLineInput(sale_line=line, quantity=int(raw)))
        if not wanted:
            raise ValidationError({"lines": _("Choose what to refund.")})
        sales.sale_refund(
            sale=sale,
            actor=request.user,
            lines=wanted,
            reason=request.POST.get("reason", "").strip()[:200],
            restock=request.POST.get("restock") == "on",
        )
    except ValidationError as error:
        return _receipt_page(
            request, store, sale, " ".join(" ".join(m) for m in error.message_dict.values()), 400
        )
    except Conflict as error:
        return _receipt_page(request, store, sale, str(error.detail), 409)
    messages.success(request, _("Refunded."))
    return redirect("pos-receipt", store_id=store.pk, sale_id=sale.pk)
