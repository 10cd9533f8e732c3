"""The errors of inventory rules that have their own documented code."""

from rest_framework import status

from kassa.api import ApiError


class InsufficientStock(ApiError):
    def __init__(self, product_sku: str, available: int, wanted: int):
        super().__init__(
            f"Not enough stock of {product_sku}: {available} available, {wanted} wanted.",
            code="insufficient_stock",
            status_code=status.HTTP_409_CONFLICT,
        )


class Conflict(ApiError):
    def __init__(self, detail: str):
        super().__init__(detail, code="conflict", status_code=status.HTTP_409_CONFLICT)
