"""The money rules of a basket (inventory.services.pricing), over 10,000 random baskets.

Invariants: every line's discount is rounded half up to the cent and never more than the line,
the total is the sum of the lines, the discount total the sum of the line discounts, an amount
discount of the basket is split to the cent, and each rate's tax is its gross times
rate / (100 + rate) correct to the cent (within half a cent of the exact value), with
net + tax = gross and the lines' taxes adding up to their rate's.
"""

import time
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.services.pricing import Discount, LineIn, allocate, basket_price, tax_of

CENT = Decimal("0.01")
RATES = [Decimal(r) for r in ("0", "10", "14", "24", "25.5")]


def cents(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


money = st.integers(min_value=0, max_value=500_000).map(lambda c: Decimal(c) / 100)
percent = st.integers(min_value=1, max_value=10_000).map(lambda c: Decimal(c) / 100)


@st.composite
def line_discount(draw, list_total: Decimal):
    kind = draw(st.sampled_from(["none", "none", "percent", "amount"]))
    if kind == "percent":
        return Discount(percent=draw(percent), reason="r")
    if kind == "amount" and list_total > 0:
        amount = Decimal(draw(st.integers(min_value=1, max_value=int(list_total * 100)))) / 100
        return Discount(amount=amount, reason="r")
    return None


@st.composite
def baskets(draw):
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        price = draw(money)
        quantity = draw(st.integers(min_value=1, max_value=50))
        discount = draw(line_discount(cents(price * quantity)))
        lines.append(
            LineIn(
                unit_price=price, quantity=quantity, tax_rate=draw(st.sampled_from(RATES)), discount=discount
            )
        )
    kind = draw(st.sampled_from(["none", "percent", "amount"]))
    basket = None
    if kind == "percent":
        basket = Discount(percent=draw(percent), reason="b")
    elif kind == "amount":
        basket = Discount(amount=Decimal(draw(st.integers(min_value=1, max_value=10_000))) / 100, reason="b")
    return lines, basket


COUNT = {"baskets": 0, "lines": 0, "seconds": 0.0}


def test_ten_thousand_random_baskets_keep_every_money_invariant():
    for key in COUNT:
        COUNT[key] = 0
    began = time.perf_counter()
    every_invariant_holds()
    print(
        f"pricing: 10,000 baskets, {COUNT['baskets']} valid, {COUNT['lines']} lines, "
        f"{COUNT['seconds']:.2f} s pricing, {time.perf_counter() - began:.1f} s in all"
    )
    assert COUNT["baskets"] >= 5_000  # most baskets were valid: the invariants were really exercised


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(baskets())
def every_invariant_holds(basket):
    started = time.perf_counter()
    lines, discount = basket
    priced = basket_price(lines, discount)
    after_own = []
    for line, out in zip(lines, priced.lines, strict=True):
        assert out.list_total == cents(line.unit_price * line.quantity)
        if line.discount is not None and line.discount.percent is not None:
            assert out.own_discount == cents(out.list_total * line.discount.percent / 100)
        elif line.discount is not None:
            assert out.own_discount == line.discount.amount
        else:
            assert out.own_discount == 0
        after_own.append(out.list_total - out.own_discount)
    whole = sum(after_own, Decimal(0))
    if discount is not None and discount.amount is not None and discount.amount > whole:
        assert "discount" in priced.errors  # more off than the basket costs: refused, not clipped
        return
    assert not priced.errors
    for out, after in zip(priced.lines, after_own, strict=True):
        assert out.total == out.list_total - out.discount >= 0
        assert out.discount <= out.list_total
        assert out.total == out.total.quantize(CENT) and out.discount == out.discount.quantize(CENT)
        if discount is not None and discount.percent is not None:
            assert out.basket_discount == cents(after * discount.percent / 100)
    if discount is not None and discount.amount is not None:
        assert priced.basket_discount_total == discount.amount
    assert priced.total == sum((out.total for out in priced.lines), Decimal(0))
    assert priced.discount_total == sum((out.discount for out in priced.lines), Decimal(0))
    assert sum((row.gross for row in priced.taxes), Decimal(0)) == priced.total
    assert priced.tax_total == sum((row.tax for row in priced.taxes), Decimal(0))
    assert len({row.rate for row in priced.taxes}) == len(priced.taxes)
    for row in priced.taxes:
        exact = row.gross * row.rate / (100 + row.rate)
        assert abs(row.tax - exact) <= Decimal("0.005")  # correct to the cent
        assert row.net + row.tax == row.gross
        members = [
            o for line, o in zip(lines, priced.lines, strict=True) if line.tax_rate.quantize(CENT) == row.rate
        ]
        assert sum((o.tax for o in members), Decimal(0)) == row.tax
    assert 0 <= priced.max_discount_percent <= 100
    COUNT["baskets"] += 1
    COUNT["lines"] += len(lines)
    COUNT["seconds"] += time.perf_counter() - started


def test_a_percent_rounds_half_up_per_line():
    priced = basket_price(
        [
            LineIn(
                unit_price=Decimal("0.05"),
                quantity=1,
                tax_rate=Decimal("24"),
                discount=Discount(percent=Decimal("10")),
            ),
            LineIn(
                unit_price=Decimal("0.15"),
                quantity=1,
                tax_rate=Decimal("24"),
                discount=Discount(percent=Decimal("10")),
            ),
        ]
    )
    # 0.005 and 0.015 both round up: 0.01 and 0.02 off.
    assert [line.own_discount for line in priced.lines] == [Decimal("0.01"), Decimal("0.02")]
    assert priced.total == Decimal("0.17")


def test_a_basket_amount_is_split_to_the_cent_by_the_largest_remainder():
    assert allocate(Decimal("1.00"), [Decimal("1"), Decimal("1"), Decimal("1")]) == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]
    priced = basket_price(
        [LineIn(unit_price=Decimal("3.33"), quantity=1, tax_rate=Decimal("14")) for _ in range(3)],
        Discount(amount=Decimal("1.00"), reason="loyalty"),
    )
    assert sum((line.basket_discount for line in priced.lines), Decimal(0)) == Decimal("1.00")
    assert priced.total == Decimal("8.99")


def test_tax_per_rate_is_from_the_rates_gross_not_the_sum_of_rounded_lines():
    lines = [LineIn(unit_price=Decimal("0.10"), quantity=1, tax_rate=Decimal("24")) for _ in range(10)]
    priced = basket_price(lines)
    # Per line 0.10 x 24 / 124 = 0.0194 rounds to 0.02, ten times 0.20; from the gross 1.00: 0.19.
    assert tax_of(Decimal("0.10"), Decimal("24")) == Decimal("0.02")
    assert [(r.rate, r.gross, r.tax, r.net) for r in priced.taxes] == [
        (Decimal("24.00"), Decimal("1.00"), Decimal("0.19"), Decimal("0.81"))
    ]
    assert sum((line.tax for line in priced.lines), Decimal(0)) == Decimal("0.19")


def test_the_ceiling_compares_the_exact_combined_discount():
    priced = basket_price(
        [
            LineIn(
                unit_price=Decimal("10.00"),
                quantity=1,
                tax_rate=Decimal("14"),
                discount=Discount(percent=Decimal("10")),
            )
        ],
        Discount(percent=Decimal("10")),
    )
    # 1 - 0.9 x 0.9 = 19 % off that line, though each discount alone is 10 %.
    assert priced.max_discount_percent == Decimal("19.00")
    assert priced.total == Decimal("8.10")


def test_impossible_discounts_are_refused_with_their_field():
    too_much = basket_price(
        [
            LineIn(
                unit_price=Decimal("1.00"),
                quantity=1,
                tax_rate=Decimal("0"),
                discount=Discount(amount=Decimal("2.00")),
            )
        ]
    )
    assert "lines" in too_much.errors
    both = basket_price(
        [LineIn(unit_price=Decimal("1.00"), quantity=1, tax_rate=Decimal("0"))],
        Discount(percent=Decimal("5"), amount=Decimal("0.10")),
    )
    assert "discount" in both.errors
    over = basket_price(
        [
            LineIn(
                unit_price=Decimal("1.00"),
                quantity=1,
                tax_rate=Decimal("0"),
                discount=Discount(percent=Decimal("100.01")),
            )
        ]
    )
    assert "lines" in over.errors
