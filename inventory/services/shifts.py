"""Register shifts: open with a float, pay cash in and out, close with the counted cash into a
Z report (inventory.selectors.shift_figures, stored once in ShiftReport and never changed).

A shift's row is the lock of its drawer: sales and refunds that take cash lock it (FOR NO KEY
UPDATE, inventory.services.sales.shift_lock), cash movements and the close lock it FOR UPDATE,
so a close waits for the sales in flight and nothing lands in a closed shift.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.permissions import MANAGE_SHIFTS
from inventory.errors import ShiftAlreadyOpen, ShiftClosed
from inventory.models import CashMovement, Shift, ShiftReport
from inventory.selectors import shift_figures
from inventory.services._rules import money, require
from tenants.models import Store

MAX_CASH = Decimal("1000000")
MAX_REGISTER_LENGTH = 64


def _amount(value, field: str, *, allow_zero: bool) -> Decimal:
    try:
        amount = Decimal(value)
    except (TypeError, ValueError, ArithmeticError):
        raise ValidationError({field: gettext("Enter an amount.")}) from None
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero) or amount > MAX_CASH:
        text = (
            gettext("Enter an amount from 0 to %(max)s.")
            if allow_zero
            else gettext("Enter an amount above 0 to %(max)s.")
        )
        raise ValidationError({field: text % {"max": MAX_CASH}})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({field: gettext("At most two decimals.")})
    return money(amount)


def _locked(shift: Shift) -> Shift:
    locked = (
        Shift.objects.select_for_update(of=("self",)).select_related("store", "opened_by").get(pk=shift.pk)
    )
    if locked.status != Shift.Status.OPEN:
        raise ShiftClosed()
    return locked


@transaction.atomic
def shift_open(*, store: Store, register: str, opening_float, actor) -> Shift:
    """Open a shift on a register of the store with the cash in its drawer (409 shift_already_open)."""
    require(actor, MANAGE_SHIFTS, store)
    register = (register or "").strip()
    if not register or len(register) > MAX_REGISTER_LENGTH or "\x00" in register:
        raise ValidationError(
            {"register": gettext("Name the register (1 to %(n)d characters).") % {"n": MAX_REGISTER_LENGTH}}
        )
    if not store.active:
        raise ValidationError({"store": gettext("This store is closed.")})
    amount = _amount(opening_float, "opening_float", allow_zero=True)
    already_open = gettext("Register %(register)s already has an open shift.")
    if Shift.objects.filter(store=store, register=register, status=Shift.Status.OPEN).exists():
        raise ShiftAlreadyOpen(already_open % {"register": repr(register)})
    try:
        with transaction.atomic():
            return Shift.objects.create(store=store, register=register, opening_float=amount, opened_by=actor)
    except IntegrityError:  # opened by someone else a moment ago
        raise ShiftAlreadyOpen(already_open % {"register": repr(register)}) from None


@transaction.atomic
def shift_cash_move(*, shift: Shift, kind: str, amount, reason: str, actor) -> CashMovement:
    """Put cash into the drawer (pay_in) or take it out (pay_out), for a reason."""
    require(actor, MANAGE_SHIFTS, shift.store)
    if kind not in CashMovement.Kind.values:
        raise ValidationError({"kind": gettext("pay_in or pay_out.")})
    value = _amount(amount, "amount", allow_zero=False)
    reason = (reason or "").strip()
    if not reason or len(reason) > 200 or "\x00" in reason:
        raise ValidationError({"reason": gettext("Say why (at most 200 characters).")})
    shift = _locked(shift)
    return CashMovement.objects.create(shift=shift, kind=kind, amount=value, reason=reason, actor=actor)


@transaction.atomic
def shift_close(*, shift: Shift, counted_cash, actor) -> ShiftReport:
    """Close the shift with the cash counted in the drawer: its Z report, stored for good."""
    require(actor, MANAGE_SHIFTS, shift.store)
    counted = _amount(counted_cash, "counted_cash", allow_zero=True)
    shift = _locked(shift)
    shift.status = Shift.Status.CLOSED
    shift.counted_cash = counted
    shift.closed_by = actor
    shift.closed_at = timezone.now()
    shift.save(update_fields=["status", "counted_cash", "closed_by", "closed_at"])
    figures = shift_figures(shift=shift)
    return ShiftReport.objects.create(shift=shift, store=shift.store, data=figures)
