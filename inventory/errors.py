"""The errors of inventory rules that have their own documented code."""

from django.utils.translation import gettext

from core.errors import Conflict, Forbidden


class InsufficientStock(Conflict):
    code = "insufficient_stock"

    def __init__(self, product_sku: str, available: int, wanted: int):
        super().__init__(
            gettext("Not enough stock of %(sku)s: %(available)d available, %(wanted)d wanted.")
            % {"sku": product_sku, "available": available, "wanted": wanted}
        )


class NoOpenShift(Conflict):
    """Cash changes hands only in an open shift of the register."""

    code = "no_open_shift"
    default_detail = "Open a shift on this register first: cash is taken only in an open shift."


class ShiftAlreadyOpen(Conflict):
    code = "shift_already_open"
    default_detail = "This register already has an open shift."


class ShiftClosed(Conflict):
    code = "shift_closed"
    default_detail = "This shift is closed."


class DiscountAboveLimit(Forbidden):
    """A discount above the actor's ceiling, with no (or not enough of an) approval."""

    code = "discount_above_limit"
    default_detail = "This discount is above your limit: a manager's approval is needed."
