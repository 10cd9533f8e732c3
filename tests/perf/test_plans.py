"""The embedded PostgreSQL plans for data in memory or on an SSD (`random_page_cost` 1.1).

At PostgreSQL's default (4.0) the planner sorted a 10,000-product tenant's whole catalogue for a
products page past the first few (19-28 ms on the bench database: ten chains of 10,000 products)
instead of walking the (tenant, sku) index (3-6 ms); `make bench-load` measured a list page's
PostgreSQL CPU go from 19.2 to 6.3 ms (bench/RESULTS.md, ninth pass). Which plan wins depends on
the table's statistics (how the chains' rows lie on its pages), so this holds the setting, on the
server a fresh machine starts, rather than one plan over made-up data. deploy/README.md asks the
same of every server.
"""

import pytest
from django.db import connections


@pytest.mark.django_db(databases=["default", "owner"])
def test_the_embedded_server_costs_a_random_read_as_memory_and_ssds_do():
    for alias in ("default", "owner"):  # the application role and the owner: a server setting
        with connections[alias].cursor() as cursor:
            cursor.execute("SHOW random_page_cost")
            setting = cursor.fetchone()
        assert setting == ("1.1",), f"{alias}: {setting}; deploy/README.md, PostgreSQL settings"
