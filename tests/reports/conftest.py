"""The inventory fixtures of the reports."""

from tests.inventory.conftest import coffee, open_shift, tea  # noqa: F401 - fixtures
