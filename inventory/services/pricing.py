"""The money rules of a basket: discounts, line totals and tax per rate. Pure functions, no database.

The method (Decimal throughout, cents rounded half up; prices include tax):

1. A line's list total is `unit price x quantity`.
2. A line discount is a percent (`list total x percent / 100`, rounded per line) or an amount
   (at most the list total).
3. A basket discount applies to what the lines cost after their own discounts: a percent is taken
   from each line and rounded per line; an amount is split over the lines in proportion to their
   totals by the largest-remainder method, so the shares add up to the amount exactly.
4. A line's total is its list total minus both discounts; the sale's total is the sum of the line
   totals, and the discount total the sum of the line discounts.
5. Tax per rate is computed once per rate from the gross of that rate's lines:
   `tax = gross x rate / (100 + rate)` rounded half up, `net = gross - tax`. So each rate's tax is
   within half a cent of its exact value, whatever the number of lines. The rate's tax is then
   split over its lines (largest remainder) for the lines' own `line_tax`, so the lines' taxes add
   up to the rates' taxes.
6. The discount a ceiling is compared with is exact, not rounded: for each line
   `1 - (1 - line share) x (1 - basket share)`, the largest over the lines, in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Discount:
    """A percent (0 < p <= 100) or an amount (> 0), with a reason."""

    percent: Decimal | None = None
    amount: Decimal | None = None
    reason: str = ""


@dataclass(frozen=True)
class LineIn:
    unit_price: Decimal
    quantity: int
    tax_rate: Decimal
    discount: Discount | None = None


@dataclass
class LineOut:
    list_total: Decimal
    own_discount: Decimal
    basket_discount: Decimal
    total: Decimal
    tax: Decimal = ZERO
    exact_share: Decimal = Decimal(0)  # the line's discount as an exact fraction (0..1)

    @property
    def discount(self) -> Decimal:
        return self.own_discount + self.basket_discount


@dataclass(frozen=True)
class TaxRow:
    rate: Decimal
    net: Decimal
    tax: Decimal
    gross: Decimal


@dataclass
class Basket:
    lines: list[LineOut]
    taxes: list[TaxRow]
    total: Decimal
    tax_total: Decimal
    discount_total: Decimal
    basket_discount_total: Decimal
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def net_total(self) -> Decimal:
        return self.total - self.tax_total

    @property
    def max_discount_percent(self) -> Decimal:
        """The largest exact discount of any line, in percent (what a ceiling is compared with)."""
        return max((line.exact_share for line in self.lines), default=Decimal(0)) * HUNDRED


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` in proportion, in cents, by the largest remainder.

    The parts add up to `total` exactly; ties go to the earlier weight. All-zero weights put the
    total on the first part.
    """
    if not weights:
        return []
    cents = int((total / CENT).to_integral_value())
    whole = sum(weights, Decimal(0))
    if whole == 0:
        return [total] + [ZERO] * (len(weights) - 1)
    raw = [Decimal(cents) * weight / whole for weight in weights]
    floors = [int(value.to_integral_value(rounding=ROUND_FLOOR)) for value in raw]
    left = cents - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - floors[i]), i))
    for index in order[:left]:
        floors[index] += 1
    return [Decimal(value) * CENT for value in floors]


def tax_of(gross: Decimal, rate: Decimal) -> Decimal:
    """The tax contained in a tax-inclusive amount at `rate` percent, rounded half up."""
    if not rate:
        return ZERO
    return money(gross * rate / (HUNDRED + rate))


def taxes_of(amounts: Sequence[tuple[Decimal, Decimal]]) -> list[TaxRow]:
    """One row per rate of (rate, gross) amounts: net, tax and gross (step 5 of the method)."""
    gross_by_rate: dict[Decimal, Decimal] = {}
    for rate, gross in amounts:
        key = Decimal(rate).quantize(CENT)
        gross_by_rate[key] = gross_by_rate.get(key, ZERO) + gross
    rows = []
    for rate in sorted(gross_by_rate):
        gross = gross_by_rate[rate]
        tax = tax_of(gross, rate)
        rows.append(TaxRow(rate=rate, net=gross - tax, tax=tax, gross=gross))
    return rows


def _check_discount(discount: Discount, base: Decimal, where: str) -> str | None:
    if (discount.percent is None) == (discount.amount is None):
        return f"{where}: give a percent or an amount."
    if discount.percent is not None:
        if not discount.percent.is_finite() or not 0 < discount.percent <= HUNDRED:
            return f"{where}: the percent must be more than 0 and at most 100."
        if discount.percent != discount.percent.quantize(CENT):
            return f"{where}: the percent has at most two decimals."
        return None
    amount = discount.amount
    if amount is None or not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        return f"{where}: the amount must be positive, in cents."
    if amount > base:
        return f"{where}: the discount ({amount}) is more than the price ({base})."
    return None


def basket_price(lines: Sequence[LineIn], discount: Discount | None = None) -> Basket:
    """Price a basket by the method above; problems go to `errors` (field -> message)."""
    errors: dict[str, str] = {}
    out: list[LineOut] = []
    line_shares: list[Decimal] = []
    for index, line in enumerate(lines, start=1):
        list_total = money(line.unit_price * line.quantity)
        own = ZERO
        share = Decimal(0)
        if line.discount is not None:
            problem = _check_discount(line.discount, list_total, f"Line {index}")
            if problem:
                errors.setdefault("lines", problem)
            elif line.discount.percent is not None:
                own = money(list_total * line.discount.percent / HUNDRED)
                share = line.discount.percent / HUNDRED
            else:
                own = line.discount.amount or ZERO
                share = own / list_total if list_total else Decimal(0)
        out.append(
            LineOut(list_total=list_total, own_discount=own, basket_discount=ZERO, total=list_total - own)
        )
        line_shares.append(share)

    after = [line.total for line in out]
    basket_share = Decimal(0)
    if discount is not None and not errors:
        problem = _check_discount(discount, sum(after, ZERO), "Basket")
        if problem:
            errors.setdefault("discount", problem)
        elif discount.percent is not None:
            for priced in out:
                priced.basket_discount = money(priced.total * discount.percent / HUNDRED)
            basket_share = discount.percent / HUNDRED
        else:
            amount = discount.amount or ZERO
            for priced, part in zip(out, allocate(amount, after), strict=True):
                priced.basket_discount = part
            whole = sum(after, ZERO)
            basket_share = amount / whole if whole else Decimal(0)
    for priced, share in zip(out, line_shares, strict=True):
        priced.total = priced.list_total - priced.own_discount - priced.basket_discount
        priced.exact_share = 1 - (1 - share) * (1 - basket_share) if priced.list_total else Decimal(0)

    rates = [Decimal(line.tax_rate).quantize(CENT) for line in lines]
    taxes = taxes_of(list(zip(rates, (line.total for line in out), strict=True)))
    for row in taxes:
        members = [i for i, rate in enumerate(rates) if rate == row.rate]
        for i, part in zip(members, allocate(row.tax, [out[i].total for i in members]), strict=True):
            out[i].tax = part
    return Basket(
        lines=out,
        taxes=taxes,
        total=sum((line.total for line in out), ZERO),
        tax_total=sum((row.tax for row in taxes), ZERO),
        discount_total=sum((line.discount for line in out), ZERO),
        basket_discount_total=sum((line.basket_discount for line in out), ZERO),
        errors=errors,
    )
