"""The inventory and back-office fixtures of the pages (the `web` client comes from tests/conftest.py)."""

from tests.backoffice.conftest import beans, bobs_supplier, filters, roaster  # noqa: F401 - fixtures
from tests.inventory.conftest import bobs_product, coffee, tea  # noqa: F401 - fixtures
