"""Customer rights: everything about one customer (access request), and erasure (anonymisation).

Erasure, bounded to the customer. A customer's name, e-mail and phone live encrypted in their
row, with keyed lookup hashes beside them; the logs mask contact fields as they are written
(auditlog.redact), and stored Idempotency-Key answers are encrypted. What older entries (or the
customer's own change entries) still hold of the customer is rewritten, and nothing else:

1. the customer row is cleared (contact data, hashes and notes; `erased_at` set; sales keep
   pointing at the anonymised row, so their figures and totals do not change);
2. the stored Idempotency-Key answers that name the customer are deleted;
3. the audit entries provably about the customer (their row's change entries, the requests that
   made those changes or named the customer's id, lookups by their exact e-mail or phone) have
   the customer's own fields and parameters rewritten to `[erased]`, JSON-path aware, through
   the privileged path (auditlog.services.audit_redact); free text chosen by whoever created
   the customer is never searched, and no other entry is touched;
4. a `CustomerRequest` row (the tenant's own record, in its change log) names who erased whom
   and why; a platform event `audit_redacted` lists each rewritten entry with its new digest
   and is sealed at once, so verification accepts exactly those rewrites and a later change to
   any of them is tampering again;
5. the erasing user's own finished exports that may hold the customer (full, customers, audit)
   are deleted; other users' exports are theirs and expire as usual (`KASSA_EXPORT_DAYS`), as
   backups age out with their retention.

Erasing needs `erase_customers` (the owner by default, never the cashier), a sign-in with a
second factor (accounts.authz.second_factor_verified), and a reason.
"""

from __future__ import annotations

import json
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import authz
from accounts.permissions import ERASE_CUSTOMERS
from auditlog.models import ChangeEvent
from auditlog.services import audit_redact, exemption_record
from core.errors import Forbidden
from exports.models import CustomerRequest, Export
from idempotency.services import records_forget
from inventory import hashing, selectors
from inventory.models import Customer, Payment, Refund, Sale, SaleLine
from inventory.services.customers import customer_anonymise
from tenants.context import get_current_tenant
from tenants.owner import owner_transaction


def customer_get(*, customer_id: UUID) -> Customer:
    return selectors.customer_get(customer_id=customer_id)


def _money(value) -> str | None:
    return str(value) if value is not None else None


def customer_data_export(*, customer: Customer, actor) -> dict:
    """Everything about the customer: contact data, sales with lines, payments and refunds, and the
    change-log entries about them. Recorded as a CustomerRequest."""
    sales = []
    for sale in Sale.objects.filter(customer=customer).order_by("created_at"):
        sales.append(
            {
                "id": str(sale.pk),
                "store": str(sale.store_id),
                "receipt_number": sale.receipt_number,
                "status": sale.status,
                "created_at": sale.created_at.isoformat(),
                "currency": sale.currency,
                "total": _money(sale.total),
                "tax_total": _money(sale.tax_total),
                "refunded_total": _money(sale.refunded_total),
                "lines": [
                    {
                        "sku": line.sku,
                        "name": line.name,
                        "quantity": line.quantity,
                        "unit_price": _money(line.unit_price),
                        "line_total": _money(line.line_total),
                        "refunded_quantity": line.refunded_quantity,
                    }
                    for line in SaleLine.objects.filter(sale=sale).order_by("id")
                ],
                "payments": [
                    {"method": p.method, "amount": _money(p.amount)}
                    for p in Payment.objects.filter(sale=sale).order_by("id")
                ],
                "refunds": [
                    {"id": str(r.pk), "created_at": r.created_at.isoformat(), "total": _money(r.total)}
                    for r in Refund.objects.filter(sale=sale).order_by("created_at")
                ],
            }
        )
    changes = [
        {
            "created_at": change.created_at.isoformat(),
            "operation": change.operation,
            "before": change.before,
            "after": change.after,
            "user_id": str(change.user_id) if change.user_id else None,
        }
        for change in ChangeEvent.objects.filter(
            model="inventory.customer", object_id=str(customer.pk)
        ).order_by("id")
    ]
    requests = [
        {"kind": r.kind, "created_at": r.created_at.isoformat(), "actor_id": str(r.actor_id)}
        for r in CustomerRequest.objects.filter(customer_id=customer.pk).order_by("created_at")
    ]
    CustomerRequest.objects.create(
        kind=CustomerRequest.Kind.EXPORT, customer_id=customer.pk, actor=actor, detail={"sales": len(sales)}
    )
    return {
        "customer": {
            "id": str(customer.pk),
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "notes": customer.notes,
            "created_at": customer.created_at.isoformat(),
            "erased_at": customer.erased_at.isoformat() if customer.erased_at else None,
        },
        "sales": sales,
        "loyalty": None,  # Kassa keeps no loyalty programme data
        "changes": changes,
        "requests": requests,
        "exported_at": timezone.now().isoformat(),
    }


def _identifiers(customer: Customer) -> dict[str, set[str]]:
    """The customer's e-mail (lower case) and phone (digits) as a lookup may have spelled them."""
    found: dict[str, set[str]] = {"email": set(), "phone": set()}
    if customer.email:
        found["email"] = {customer.email.strip().lower(), hashing.normalise_email(customer.email)}
    if customer.phone:
        found["phone"] = {"".join(c for c in customer.phone if c.isdigit())} - {""}
    return found


REASON_LIMIT = 500


def customer_erase(*, customer: Customer, actor, reason: str) -> dict:
    """Anonymise the customer everywhere it is stored (see the module's docstring). Idempotent."""
    if not authz.can(actor, ERASE_CUSTOMERS):
        raise PermissionDenied(gettext("Erasing a customer needs the erase_customers permission."))
    if not authz.second_factor_verified(actor):
        raise Forbidden(
            gettext("Erasing a customer needs a sign-in with a second factor."), code="second_factor_required"
        )
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_LIMIT:
        raise ValidationError(
            {"reason": gettext("Say why, in 1 to %(most)d characters.") % {"most": REASON_LIMIT}}
        )
    if customer.erased_at is not None:
        return {"id": str(customer.pk), "erased_at": customer.erased_at.isoformat()}
    tenant = get_current_tenant()
    identifiers = _identifiers(customer)
    now = timezone.now()
    with owner_transaction(tenant, privileged=True) as cursor:
        if not customer_anonymise(cursor=cursor, customer=customer, now=now):  # erased meanwhile
            transaction.set_rollback(True, using="owner")
            customer.refresh_from_db()
            return {"id": str(customer.pk), "erased_at": customer.erased_at.isoformat()}
        records_forget(cursor=cursor, tenant_id=tenant.pk, customer_id=customer.pk)
        # After the writes above: their change-log entries are rewritten too.
        redacted = audit_redact(
            cursor=cursor, tenant_id=tenant.pk, customer_id=customer.pk, identifiers=identifiers
        )
        counts = {table: len(ids) for table, ids in redacted["entries"].items()}
        cursor.execute(
            "INSERT INTO exports_customerrequest (id, tenant_id, kind, customer_id, actor_id, detail, created_at) "
            "VALUES (gen_random_uuid(), %s, 'erase', %s, %s, %s, %s)",
            [tenant.pk, customer.pk, actor.pk, json.dumps({"reason": reason, "rewritten": counts}), now],
        )
    from exports.services import export_delete_file

    own = Export.objects.filter(
        requested_by=actor,
        status=Export.Status.DONE,
        kind__in=[Export.Kind.FULL, Export.Kind.CUSTOMERS, Export.Kind.AUDIT],
    )
    for export in list(own):
        export_delete_file(tenant=tenant, export=export)
    exemption_record(
        kind="audit_redacted",
        tenant=tenant,
        actor=str(actor.pk),
        detail={"reason": "customer erasure", "customer": str(customer.pk), **redacted},
    )
    return {"id": str(customer.pk), "erased_at": now.isoformat()}
