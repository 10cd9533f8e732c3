"""The register: server-rendered pages and a few thin JSON views for its script.

Every write goes through the inventory services (`sales.sale_create`, `sale_refund`,
`return_create`, `shifts.*`), every read through `inventory.selectors`, exactly as the API
does; the services check the permission in the store again. Each URL names its store as
`store_id`, so the access log records the store and store managers see the register's requests
in their logs.

The sale, refund and return views are not atomic: a manager's approval is checked first by the
sign-in rules (accounts.approvals), so a failed attempt counts and stays recorded, and then the
write and its Idempotency-Key record commit in one transaction of their own.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.shortcuts import render as django_render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import approvals, authz, sessions
from accounts.permissions import (
    GIVE_DISCOUNT,
    MANAGE_SHIFTS,
    REFUND,
    REFUND_WITHOUT_RECEIPT,
    SELL,
    VIEW_CUSTOMERS,
    VIEW_SALES,
)
from accounts.signin import SignInRefused, signin_check
from accounts.web import session_begin
from core.errors import Conflict, DomainError, Forbidden, Gone, NotFound, Unprocessable
from idempotency.decorator import HEADER, Idempotency, fingerprint_of
from inventory import selectors
from inventory.errors import DiscountAboveLimit
from inventory.models import CashMovement, Payment, Shift, ShiftReport
from inventory.services import sales, shifts
from tenants.models import Store
from tenants.timezones import local_time, zone_of
from web.access import tenant_staff_required

SEARCH_LIMIT = 20
MAX_LINES = 200
MAX_QUANTITY = 9999
MAX_TENDERS = 4
REGISTER_METHODS = (Payment.Method.CASH, Payment.Method.CARD, Payment.Method.VOUCHER)
SESSION_REGISTER = "kassa_pos_register"


def render(request, template: str, context: dict, status: int = 200):
    """A register page in its store's local time (receipts, shifts, recent sales)."""
    store = context.get("store")
    with timezone.override(zone_of(store) if store is not None else timezone.get_current_timezone()):
        return django_render(request, template, context, status=status)


def _store(request, store_id, *permissions) -> Store:
    """The store named in the URL: 404 if it is not the tenant's, 403 without one of `permissions`."""
    store = selectors.store_get(store_id=store_id)
    if not any(authz.can(request.user, permission, store) for permission in permissions):
        raise PermissionDenied(_("You may not do this in %(store)s.") % {"store": store.name})
    return store


def _json_error(status: int, code: str, detail: str, fields: dict | None = None) -> JsonResponse:
    body: dict = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def _validation_body(error: ValidationError) -> tuple[str, dict]:
    if hasattr(error, "error_dict"):
        fields = {name: " ".join(map(str, problems)) for name, problems in error.message_dict.items()}
    else:
        fields = {"non_field_errors": " ".join(error.messages)}
    return " ".join(fields.values()), fields


def _domain_status(error: DomainError) -> int:
    """The status of a domain error, as the API's one handler (core.api) answers it."""
    for kind, status in (
        (NotFound, 404),
        (Forbidden, 403),
        (Conflict, 409),
        (Gone, 410),
        (Unprocessable, 422),
    ):
        if isinstance(error, kind):
            return status
    return 400


def _test_delay() -> None:
    """A pause before answering a lookup, for the browser tests of scanning under a slow network.

    Only `override_settings` can set KASSA_POS_TEST_DELAY_MS (no environment variable reads it),
    and it is ignored when KASSA_ENV is production.
    """
    delay = getattr(settings, "KASSA_POS_TEST_DELAY_MS", 0)
    if delay and not settings.PRODUCTION:
        time.sleep(min(delay, 5000) / 1000)


def _register_of(request, store: Store) -> str:
    """This browser's register in the store: the one it opened or chose, else the only open one."""
    chosen = request.session.get(SESSION_REGISTER, {}).get(str(store.pk), "")
    open_shifts = list(selectors.shifts_open(store=store).values_list("register", flat=True))
    if chosen and chosen in open_shifts:
        return chosen
    if len(open_shifts) == 1:
        return open_shifts[0]
    return chosen


def _register_remember(request, store: Store, register: str) -> None:
    chosen = dict(request.session.get(SESSION_REGISTER, {}))
    chosen[str(store.pk)] = register
    request.session[SESSION_REGISTER] = chosen


def _session_expires_in(request) -> int:
    from accounts.policy import policy_for

    return sessions.session_seconds_left(session=request.session, policy=policy_for(request.user))


@tenant_staff_required
@require_GET
def store_choose(request):
    if not authz.can(request.user, SELL):
        raise PermissionDenied(_("You may not sell in any store."))
    stores = list(selectors.stores_open_to(user=request.user, permission=SELL))
    if len(stores) == 1:
        return redirect("pos-register", store_id=stores[0].pk)
    return render(request, "pos/choose_store.html", {"stores": stores})


def _strings() -> dict:
    return {
        "not_found": _("Nothing matches “%s”."),
        "choose": _("Several products match: choose one."),
        "empty": _("The basket is empty."),
        "short": _("The cash received does not cover the total."),
        "failed": _("The sale was not recorded: %s"),
        "offline": _("The register could not reach the server; nothing was recorded."),
        "lookup_offline": _("Could not look up “%s”: the server did not answer. Scan it again."),
        "remove": _("Remove"),
        "less": _("One less"),
        "more": _("One more"),
        "in_stock": _("in stock"),
        "out_of_stock": _("out of stock"),
        "pending": _("Looking up %s…"),
        "discount": _("Discount"),
        "line_discount": _("Discount on %s"),
        "basket_discount": _("Discount on the basket"),
        "discount_invalid": _("Enter a percent (up to 100) or an amount up to the price."),
        "discount_reason": _("Give a reason for the discount."),
        "approval_needed": _("A discount of %s percent is above your limit: a manager must approve it."),
        "approval_refused": _("The approval was refused: %s"),
        "stock_warning": _("Only %(stock)s of %(name)s in stock. Sell %(quantity)s anyway?"),
        "stock_refused": _("Only %(stock)s of %(name)s in stock: this store does not sell more than it has."),
        "card_confirm": _("Card payment of %s: approved by the terminal?"),
        "voucher_confirm": _("Voucher of %s: enter its code."),
        "tender_too_much": _("Only cash can be more than what is due (%s)."),
        "cash": _("Cash"),
        "card": _("Card"),
        "voucher": _("Voucher"),
        "change": _("Change"),
        "due": _("Due"),
        "paid": _("Paid"),
        "session_warning": _("Your session ends in %s s. Press F2 to stay signed in."),
        "session_expired": _("Your session ended. Sign in again: the basket is kept."),
        "signin_failed": _("Signing in failed: %s"),
        "customer_none": _("No customer found."),
        "customer_attached": _("Customer %s"),
        "no_shift": _("No shift is open on this register: cash needs an open shift."),
        "other_user": _("Signed in as someone else: the basket was cleared."),
    }


@tenant_staff_required
@require_GET
def register(request, store_id):
    store = _store(request, store_id, SELL)
    register_name = _register_of(request, store)
    shift = selectors.shift_open_get(store=store, register=register_name) if register_name else None
    user = request.user
    ceiling = authz.discount_ceiling(user, store)
    return render(
        request,
        "pos/register.html",
        {
            "store": store,
            "recent": selectors.store_sales_recent(store=store, limit=8),
            "currency": sales.currency(),
            "can_refund": authz.can(user, REFUND, store),
            "can_return": True,
            "can_shifts": authz.can(user, MANAGE_SHIFTS, store),
            "can_discount": authz.can(user, GIVE_DISCOUNT, store),
            "can_customers": authz.can(user, VIEW_CUSTOMERS),
            "other_stores": selectors.stores_open_to(user=user, permission=SELL)
            .exclude(pk=store.pk)
            .exists(),
            "register_name": register_name,
            "shift": shift,
            "open_shifts": list(selectors.shifts_open(store=store)),
            "config": {
                "register": register_name,
                "shift": str(shift.pk) if shift else "",
                "ceiling": str(ceiling) if ceiling is not None else "",
                "negative_stock": store.allow_negative_stock,
                "username": user.username,
                "expires_in": _session_expires_in(request),
            },
            "strings": _strings(),
        },
    )


@tenant_staff_required
@require_GET
def product_lookup(request, store_id):
    """Products matching a scanned barcode or SKU exactly (first), else by name."""
    store = _store(request, store_id, SELL)
    _test_delay()
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
                    "out_of_stock": stock.get(product.pk, 0) <= 0,
                }
                for product in products
            ],
        }
    )


@tenant_staff_required
@require_GET
def customer_lookup(request, store_id):
    """Customers by exact e-mail or phone (keyed hash) or by customer number."""
    _store(request, store_id, SELL)
    if not authz.can(request.user, VIEW_CUSTOMERS):
        return _json_error(403, "permission_denied", _("You may not look up customers."))
    found = selectors.customer_lookup(text=request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {"id": str(c.pk), "number": selectors.customer_number(c), "name": c.name or ""} for c in found
            ]
        }
    )


def _decimal(raw, field: str, message: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: message}) from None
    if not value.is_finite() or value < 0 or value > Decimal("1000000"):
        raise ValidationError({field: message})
    return value


def _discount(raw, field: str) -> dict | None:
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict):
        raise ValidationError({field: _("A discount is a percent or an amount.")})
    reason = str(raw.get("reason") or "")[:200]
    if "percent" in raw and raw["percent"] not in (None, ""):
        return {"percent": _decimal(raw["percent"], field, _("Enter a percent.")), "reason": reason}
    if "amount" in raw and raw["amount"] not in (None, ""):
        return {"amount": _decimal(raw["amount"], field, _("Enter an amount.")), "reason": reason}
    raise ValidationError({field: _("A discount is a percent or an amount.")})


def _payments(raw_payments) -> list[dict]:
    if not isinstance(raw_payments, list) or not raw_payments or len(raw_payments) > MAX_TENDERS:
        raise ValidationError({"payments": _("Take one to four payments.")})
    payments = []
    for index, item in enumerate(raw_payments, start=1):
        if not isinstance(item, dict) or item.get("method") not in REGISTER_METHODS:
            raise ValidationError({"payments": _("Payment %(n)d: cash, card or voucher.") % {"n": index}})
        try:
            amount = Decimal(str(item.get("amount")))
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount <= 0 or amount > Decimal("1000000"):
            raise ValidationError({"payments": _("Payment %(n)d: enter an amount.") % {"n": index}})
        reference = str(item.get("reference") or "")[:64]
        payments.append({"method": item["method"], "amount": amount, "reference": reference})
    return payments


def _sale_input(body) -> dict:
    """The sale's checked values from the register's JSON; ValidationError names the first bad field."""
    if not isinstance(body, dict):
        raise ValidationError({"body": _("Expected a JSON object.")})
    raw_lines = body.get("lines")
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
        lines.append(
            {"product": product, "quantity": quantity, "discount": _discount(item.get("discount"), "lines")}
        )
    customer = None
    if body.get("customer"):
        try:
            customer = selectors.customer_get(customer_id=body.get("customer"))
        except NotFound:
            raise ValidationError({"customer": _("No such customer.")}) from None
    register = body.get("register") or ""
    if not isinstance(register, str) or len(register) > 64:
        raise ValidationError({"register": _("At most 64 characters.")})
    return {
        "lines": lines,
        "payments": _payments(body.get("payments")),
        "discount": _discount(body.get("discount"), "discount"),
        "customer": customer,
        "register": register,
    }


def _approval(request, body, purpose: str, refusal_code: str):
    raw = body.get("approved_by") if isinstance(body, dict) else None
    if not raw:
        return None
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("username"), str)
        or not isinstance(raw.get("password"), str)
    ):
        raise ValidationError({"approved_by": _("The approver's username and password.")})
    return approvals.approval_check(
        request=request,
        username=raw["username"][:150],
        password=raw["password"][:1024],
        otp=str(raw.get("otp") or "")[:32] or None,
        purpose=purpose,
        channel="web",
        refusal_code=refusal_code,
    )


def _parse(request):
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


def _once_json(request, body, work) -> JsonResponse:
    """Run `work()` (a (status, body) pair) once for the request's Idempotency-Key."""
    guard = Idempotency(
        key=request.headers.get(HEADER),
        fingerprint=fingerprint_of(user=request.user.pk, method="POST", path=request.path, body=body),
    )
    result = guard.run(work, answer=lambda answer: answer)
    if result[0] == "replay":
        response = JsonResponse(result[2], status=result[1])
        response["Idempotent-Replayed"] = "true"
        return response
    return JsonResponse(result[1], status=result[0])


@transaction.non_atomic_requests
@tenant_staff_required
@require_POST
def sale_create(request, store_id):
    store = _store(request, store_id, SELL)
    body = _parse(request)
    if body is None:
        return _json_error(400, "invalid", _("The request was not JSON."))
    try:
        values = _sale_input(body)
        approval = _approval(request, body, approvals.DISCOUNT, DiscountAboveLimit.code)
        lines, payments = sales.sale_inputs(lines=values["lines"], payments=values["payments"])

        def work():
            sale = sales.sale_create(
                store=store,
                lines=lines,
                payments=payments,
                customer=values["customer"],
                discount=sales.discount_input(values["discount"]),
                register=values["register"],
                approval=approval,
                actor=request.user,
            )
            return 201, {
                "id": str(sale.pk),
                "receipt_number": sale.receipt_number,
                "total": str(sale.total),
                "change_due": str(sale.change_due),
                "receipt_url": reverse("pos-receipt", kwargs={"store_id": store.pk, "sale_id": sale.pk}),
            }

        return _once_json(request, body, work)
    except ValidationError as error:
        detail, fields = _validation_body(error)
        return _json_error(400, "invalid", detail, fields)
    except PermissionDenied as error:
        return _json_error(403, "permission_denied", str(error))
    except DomainError as error:
        return _json_error(_domain_status(error), error.code, str(error.detail))


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
        line.net = line.line_total - line.line_tax
    fresh = request.GET.get("new") == "1"
    user = request.user
    return render(
        request,
        "pos/receipt.html",
        {
            "store": store,
            "sale": sale,
            "lines": lines,
            "taxes": list(sale.taxes.all()),
            "payments": list(sale.payments.all()),
            "refunds": list(sale.refunds.all()),
            "local_time": local_time(sale.created_at, store),
            "copy": not fresh,
            "auto_print": fresh and store.receipt_auto_print,
            "customer_number": selectors.customer_number(sale.customer) if sale.customer_id else "",
            "can_refund": any(line.refundable for line in lines)
            and (authz.can(user, REFUND, store) or authz.can(user, SELL, store)),
            "needs_approval": not authz.can(user, REFUND, store),
            "can_sell": authz.can(user, SELL, store),
            "register_name": _register_of(request, store),
            "methods": REGISTER_METHODS,
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
        if number.isdigit() and len(number) < 15
        else None
    )
    if sale is None:
        messages.error(request, _("No receipt %(number)s in this store.") % {"number": number[:20]})
        return redirect("pos-register", store_id=store.pk)
    return redirect("pos-receipt", store_id=store.pk, sale_id=sale.pk)


def _form_approval(request, purpose: str):
    """A manager's approval typed into a register form (username, password, code), or None."""
    username = request.POST.get("approver", "").strip()[:150]
    if not username:
        return None
    return approvals.approval_check(
        request=request,
        username=username,
        password=request.POST.get("approver_password", "")[:1024],
        otp=request.POST.get("approver_otp", "").strip()[:32] or None,
        purpose=purpose,
        channel="web",
    )


def _form_tender(request) -> str | None:
    """The refund's tender from the form: one method for the whole amount (None: the sale's own)."""
    method = request.POST.get("method", "")
    if not method:
        return None
    if method not in REGISTER_METHODS:
        raise ValidationError({"method": _("Cash, card or voucher.")})
    return method


@transaction.non_atomic_requests
@tenant_staff_required
@require_POST
def sale_refund(request, store_id, sale_id):
    store = _store(request, store_id, REFUND, SELL)
    sale = selectors.store_sale_get(store=store, sale_id=sale_id)
    wanted = []
    try:
        for line in sale.lines.all():
            raw = request.POST.get(f"line-{line.pk}", "0").strip() or "0"
            if not raw.isdigit() or len(raw) > 6:
                raise ValidationError({"lines": _("%(sku)s: enter a whole number.") % {"sku": line.sku}})
            if int(raw) > 0:
                wanted.append(sales.RefundLineInput(sale_line=line, quantity=int(raw)))
        if not wanted:
            raise ValidationError({"lines": _("Choose what to refund.")})
        method = _form_tender(request)
        approval = _form_approval(request, approvals.REFUND)
        with transaction.atomic():
            sales.sale_refund(
                sale=sale,
                actor=request.user,
                lines=wanted,
                reason=request.POST.get("reason", "").strip()[:200],
                restock=request.POST.get("restock") == "on",
                tender_method=method,
                register=_register_of(request, store),
                approval=approval,
            )
    except ValidationError as error:
        return _receipt_page(request, store, sale, _validation_body(error)[0], 400)
    except PermissionDenied as error:
        return _receipt_page(request, store, sale, str(error), 403)
    except DomainError as error:
        return _receipt_page(request, store, sale, str(error.detail), _domain_status(error))
    messages.success(request, _("Refunded."))
    return redirect("pos-receipt", store_id=store.pk, sale_id=sale.pk)


RETURN_ROWS = 5


def _return_rows(request) -> list[dict]:
    return [
        {
            "code": request.POST.get(f"code-{i}", "").strip()[:64],
            "quantity": request.POST.get(f"quantity-{i}", "").strip()[:6],
        }
        for i in range(RETURN_ROWS)
    ]


@transaction.non_atomic_requests
@tenant_staff_required
def return_create(request, store_id):
    """Goods back without a receipt: products by barcode or SKU, a reason, how the money goes back."""
    store = _store(request, store_id, REFUND_WITHOUT_RECEIPT, SELL)
    context = {
        "store": store,
        "rows": [{"code": "", "quantity": ""}] * RETURN_ROWS,
        "methods": REGISTER_METHODS,
        "needs_approval": not authz.can(request.user, REFUND_WITHOUT_RECEIPT, store),
    }
    if request.method == "GET":
        return render(request, "pos/return.html", context)
    if request.method != "POST":
        return JsonResponse({"code": "method_not_allowed", "detail": "GET or POST."}, status=405)
    rows = _return_rows(request)
    context.update(
        rows=rows, reason=request.POST.get("reason", "")[:200], method=request.POST.get("method", "")
    )
    try:
        lines = []
        for index, row in enumerate(rows, start=1):
            if not row["code"]:
                continue
            if not row["quantity"].isdigit() or not 0 < int(row["quantity"]) <= MAX_QUANTITY:
                raise ValidationError(
                    {"lines": _("Line %(n)d: the quantity must be 1 to 9999.") % {"n": index}}
                )
            product = selectors.product_by_code(code=row["code"])
            if product is None:
                raise ValidationError({"lines": _("Line %(n)d: no product has this code.") % {"n": index}})
            lines.append(sales.ReturnLineInput(product=product, quantity=int(row["quantity"])))
        if not lines:
            raise ValidationError({"lines": _("Scan what comes back.")})
        method = _form_tender(request)
        if not method:
            raise ValidationError({"method": _("Choose how the money goes back.")})
        approval = _form_approval(request, approvals.RETURN)
        with transaction.atomic():
            refund = sales.return_create(
                store=store,
                actor=request.user,
                lines=lines,
                reason=request.POST.get("reason", "")[:200],
                payments=[],
                tender_method=method,
                register=_register_of(request, store),
                approval=approval,
            )
    except ValidationError as error:
        context["error"] = _validation_body(error)[0]
        return render(request, "pos/return.html", context, status=400)
    except PermissionDenied as error:
        context["error"] = str(error)
        return render(request, "pos/return.html", context, status=403)
    except DomainError as error:
        context["error"] = str(error.detail)
        return render(request, "pos/return.html", context, status=_domain_status(error))
    messages.success(
        request,
        _("Taken back: %(total)s %(currency)s.") % {"total": refund.total, "currency": sales.currency()},
    )
    return redirect("pos-register", store_id=store.pk)


# --- shifts ------------------------------------------------------------------------------------


@tenant_staff_required
def shift_open(request, store_id):
    """The shifts of the store, and opening one on a register with its float."""
    store = _store(request, store_id, MANAGE_SHIFTS)
    context = {
        "store": store,
        "open_shifts": list(selectors.shifts_open(store=store)),
        "recent": list(
            Shift.objects.filter(store=store, status=Shift.Status.CLOSED).select_related("closed_by")[:10]
        ),
        "register_name": _register_of(request, store) or "1",
        "opening_float": "",
    }
    if request.method == "GET":
        return render(request, "pos/shifts.html", context)
    if request.method != "POST":
        return JsonResponse({"code": "method_not_allowed", "detail": "GET or POST."}, status=405)
    register_name = request.POST.get("register", "").strip()
    context.update(register_name=register_name[:64], opening_float=request.POST.get("opening_float", "")[:20])
    choose = request.POST.get("choose", "")
    if choose:  # work on a register whose shift is open already
        shift = selectors.shift_open_get(store=store, register=choose[:64])
        if shift is None:
            raise Http404("No open shift on this register.")
        _register_remember(request, store, shift.register)
        return redirect("pos-register", store_id=store.pk)
    try:
        amount = _decimal(
            request.POST.get("opening_float", "").replace(",", "."),
            "opening_float",
            _("Enter the cash in the drawer."),
        )
        shift = shifts.shift_open(
            store=store, register=register_name, opening_float=amount, actor=request.user
        )
    except ValidationError as error:
        context["error"] = _validation_body(error)[0]
        return render(request, "pos/shifts.html", context, status=400)
    except DomainError as error:
        context["error"] = str(error.detail)
        return render(request, "pos/shifts.html", context, status=_domain_status(error))
    _register_remember(request, store, shift.register)
    messages.success(request, _("Register %(register)s is open.") % {"register": shift.register})
    return redirect("pos-register", store_id=store.pk)


def _shift_of(request, store: Store, shift_id) -> Shift:
    shift = selectors.shift_get(user=request.user, shift_id=shift_id)
    if shift.store_id != store.pk:
        raise NotFound()
    return shift


@tenant_staff_required
@require_GET
def shift_report(request, store_id, shift_id):
    """The X report of an open shift (with pay-in/out and close), or the Z report of a closed one."""
    store = _store(request, store_id, MANAGE_SHIFTS, VIEW_SALES)
    shift = _shift_of(request, store, shift_id)
    return _shift_page(request, store, shift)


def _shift_page(request, store, shift, error: str = "", status: int = 200, form: dict | None = None):
    if shift.status == Shift.Status.CLOSED:
        report = ShiftReport.objects.get(shift=shift).data
    else:
        report = selectors.shift_figures(shift=shift)
    return render(
        request,
        "pos/shift.html",
        {
            "store": store,
            "shift": shift,
            "report": report,
            "opened_at": local_time(shift.opened_at, store),
            "closed_at": local_time(shift.closed_at, store) if shift.closed_at else None,
            "can_manage": authz.can(request.user, MANAGE_SHIFTS, store) and shift.status == Shift.Status.OPEN,
            "kinds": CashMovement.Kind.choices,
            "error": error,
            "form": form or {},
            "currency": sales.currency(),
        },
        status=status,
    )


@tenant_staff_required
@require_POST
def shift_cash(request, store_id, shift_id):
    store = _store(request, store_id, MANAGE_SHIFTS)
    shift = _shift_of(request, store, shift_id)
    form = {k: request.POST.get(k, "")[:200] for k in ("kind", "amount", "reason")}
    try:
        with transaction.atomic():
            amount = _decimal(form["amount"].replace(",", "."), "amount", _("Enter an amount."))
            shifts.shift_cash_move(
                shift=shift, kind=form["kind"], amount=amount, reason=form["reason"], actor=request.user
            )
    except ValidationError as error:
        return _shift_page(request, store, shift, _validation_body(error)[0], 400, form)
    except DomainError as error:
        return _shift_page(request, store, shift, str(error.detail), _domain_status(error), form)
    messages.success(request, _("Recorded."))
    return redirect("pos-shift", store_id=store.pk, shift_id=shift.pk)


@tenant_staff_required
@require_POST
def shift_close(request, store_id, shift_id):
    store = _store(request, store_id, MANAGE_SHIFTS)
    shift = _shift_of(request, store, shift_id)
    form = {"counted_cash": request.POST.get("counted_cash", "")[:20]}
    try:
        with transaction.atomic():
            counted = _decimal(
                form["counted_cash"].replace(",", "."),
                "counted_cash",
                _("Enter the cash counted in the drawer."),
            )
            shifts.shift_close(shift=shift, counted_cash=counted, actor=request.user)
    except ValidationError as error:
        return _shift_page(request, store, shift, _validation_body(error)[0], 400, form)
    except DomainError as error:
        return _shift_page(request, store, shift, str(error.detail), _domain_status(error), form)
    messages.success(request, _("The shift is closed: its Z report is below."))
    return redirect("pos-shift", store_id=store.pk, shift_id=shift.pk)


# --- the session at the register ----------------------------------------------------------------


@tenant_staff_required
@require_POST
def session_extend(request, store_id):
    """Stay signed in: the idle clock starts again (the absolute lifetime still ends the session)."""
    _store(request, store_id, SELL)
    sessions.session_touch(request=request)
    return JsonResponse({"expires_in": _session_expires_in(request)})


@transaction.non_atomic_requests
@require_POST
def session_signin(request, store_id):
    """Sign in again at the register after the session ended, keeping the basket in the page.

    The sign-in rules of /login/ (accounts.signin: lockout, one-time code, records); the answer
    carries the new CSRF token, since signing in rotates it.
    """
    if getattr(request, "tenant", None) is None:
        raise Http404("No such page on the platform host.")
    store = selectors.store_get(store_id=store_id)
    body = _parse(request)
    if not isinstance(body, dict) or not isinstance(body.get("username"), str):
        return _json_error(400, "invalid", _("Username and password."), {"username": _("Required.")})
    try:
        signed = signin_check(
            request=request,
            username=body["username"][:150],
            password=str(body.get("password") or "")[:1024],
            otp=str(body.get("otp") or "")[:32] or None,
            channel="web",
        )
    except SignInRefused as refusal:
        return _json_error(refusal.status, refusal.code, refusal.detail)
    if signed.password_change_required:
        return _json_error(
            403, "password_expired", _("Your password must be changed: sign in on the sign-in page.")
        )
    if not authz.can(signed.user, SELL, store):
        return _json_error(
            403, "permission_denied", _("You may not sell in %(store)s.") % {"store": store.name}
        )
    with transaction.atomic():
        session_begin(request, signed.user, second_factor=signed.second_factor)
    return JsonResponse(
        {
            "username": signed.user.username,
            "csrf": get_token(request),
            "expires_in": _session_expires_in(request),
        }
    )
