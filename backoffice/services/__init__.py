"""Every change of the back office: one function each, one transaction each.

`purchasing` (purchase orders and their receipts), `stocktakes`, `transfers` (in transit) and
`reorder` (draft purchase orders from the reorder list). Callers import from the submodule.
Stock moves only through `inventory.services.stock`, which checks the actor's permission in
the store again; `actor=None` is the system (the demo, commands), authorised by its caller.
"""
