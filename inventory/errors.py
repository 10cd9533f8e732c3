"""The errors of inventory rules that have their own documented code."""

from core.errors import Conflict


class InsufficientStock(Conflict):
    code = "insufficient_stock"

    def __init__(self, product_sku: str, available: int, wanted: int):
        super().__init__(f"Not enough stock of {product_sku}: {available} available, {wanted} wanted.")
