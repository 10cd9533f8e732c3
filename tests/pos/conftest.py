"""The inventory fixtures of the register (the `web` client comes from tests/conftest.py)."""

from tests.inventory.conftest import bobs_product, coffee, open_shift, open_shift_b, tea  # noqa: F401 - fixtures
