"""Every change to the catalogue, customers, stock and sales: one function each, one transaction each.

`catalogue` (stores, categories, suppliers, products), `customers`, `stock` (receive, adjust,
count, transfer, reorder points: the ledger) and `sales` (sale, refund, receipt numbers).
Callers import from the submodule.

`actor` is the user on whose behalf the change is made; the function checks their
permission in the store itself (Django's PermissionDenied: 403 in the API). `actor=None` is
the system (demo seeding, the import command), which the caller has authorised.
"""
