"""Customers: contact data kept encrypted, found by keyed hashes."""

from __future__ import annotations

from django.db import transaction

from accounts.permissions import CREATE_CUSTOMERS, MANAGE_CUSTOMERS
from core.errors import Conflict
from inventory import hashing
from inventory.models import Customer
from inventory.services._rules import require


def _customer_set_contact(customer: Customer, fields: dict) -> list[str]:
    changed = []
    for name in ("name", "email", "phone", "notes"):
        if name in fields:
            setattr(customer, name, fields[name] or ("" if name == "notes" else None))
            changed.append(name)
    if "email" in fields:
        customer.email_hash = hashing.email_hash(fields["email"])
        changed.append("email_hash")
    if "phone" in fields:
        customer.phone_hash = hashing.phone_hash(fields["phone"])
        changed.append("phone_hash")
    return changed


@transaction.atomic
def customer_create(*, actor, name: str = "", email: str = "", phone: str = "", notes: str = "") -> Customer:
    require(actor, CREATE_CUSTOMERS)
    customer = Customer()
    _customer_set_contact(customer, {"name": name, "email": email, "phone": phone, "notes": notes})
    customer.save()
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor, **fields) -> Customer:
    require(actor, MANAGE_CUSTOMERS)
    if customer.erased_at is not None:
        raise Conflict("This customer was erased.")
    changed = _customer_set_contact(customer, fields)
    if changed:
        customer.save(update_fields=changed)
    return customer


def customer_anonymise(*, cursor, customer: Customer, now) -> bool:
    """Clear the customer's contact data, lookup hashes and notes (a customer's erasure, in the
    caller's owner transaction). Sales keep pointing at the anonymised row, so their figures
    stay. False when another request erased the customer first."""
    cursor.execute(
        "UPDATE inventory_customer SET name = NULL, email = NULL, phone = NULL, email_hash = '', "
        "phone_hash = '', notes = '', erased_at = %s WHERE id = %s AND tenant_id = %s AND erased_at IS NULL",
        [now, customer.pk, customer.tenant_id],
    )
    return cursor.rowcount == 1
