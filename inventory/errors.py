"""The errors of inventory rules that have their own documented code."""

from django.utils.translation import gettext

from core.errors import Conflict


class InsufficientStock(Conflict):
    code = "insufficient_stock"

    def __init__(self, product_sku: str, available: int, wanted: int):
        super().__init__(
            gettext("Not enough stock of %(sku)s: %(available)d available, %(wanted)d wanted.")
            % {"sku": product_sku, "available": available, "wanted": wanted}
        )
