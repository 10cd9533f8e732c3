"""Customer rights: everything about one customer (access request), and erasure (anonymisation).

Erasure is a job. A request records a `CustomerErasure` (`customer_erasure_request`, answered
202) after the checks that need the request (the permission, the second factor, the reason),
and the privileged worker runs it as the maintenance role (`customer_erasure_run`, task
`exports.customer_erasure_run_task` on the privileged queue): a web process never holds the
credentials that rewrite the audit log. One erasure of a customer is active at a time (a
constraint, the job's claim, and a per-customer advisory lock in its transaction).

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
   `kassa_audit_delete()`, the maintenance role's only way in (auditlog.services.audit_redact); free text chosen by whoever created
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
import logging
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts import authz
from accounts.permissions import ERASE_CUSTOMERS
from auditlog.models import ChangeEvent
from auditlog.services import audit_redact, exemption_record
from core.errors import Conflict, Forbidden, NotFound
from exports.models import CustomerErasure, CustomerRequest, Export
from idempotency.services import records_forget
from inventory import hashing, selectors
from inventory.models import Customer, Payment, Refund, Sale, SaleLine
from inventory.services.customers import customer_anonymise
from tenants.context import get_current_tenant, tenant_context
from tenants.maintenance import as_maintenance, maintenance_transaction
from tenants.models import Tenant

logger = logging.getLogger(__name__)
# A running erasure whose worker has shown no sign of life for this long may be claimed again.
STALE_SECONDS = 120
LOCK_NAMESPACE = 62  # pg_try_advisory_xact_lock(namespace, hashtext(customer id))


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


def _reason_clean(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_LIMIT:
        raise ValidationError(
            {"reason": gettext("Say why, in 1 to %(most)d characters.") % {"most": REASON_LIMIT}}
        )
    return reason


class ErasureBusy(Conflict):
    code = "erasure_in_progress"
    default_detail = "Another erasure of this customer is running."


def customer_erase(
    *, customer: Customer, actor, reason: str, on_progress: Callable[[int], None] | None = None
) -> dict:
    """Anonymise the customer everywhere it is stored (see the module's docstring). Idempotent.

    The maintenance role's: run by `customer_erasure_run` in the privileged worker, after the
    request checked the second factor and the reason. The permission is checked again here, so
    one revoked meanwhile stops it.
    """

    def progress(percent: int) -> None:
        if on_progress:
            on_progress(percent)

    if not authz.can(actor, ERASE_CUSTOMERS):
        raise PermissionDenied(gettext("Erasing a customer needs the erase_customers permission."))
    reason = _reason_clean(reason)
    if customer.erased_at is not None:
        return {"id": str(customer.pk), "erased_at": customer.erased_at.isoformat(), "rewritten": {}}
    tenant = get_current_tenant()
    identifiers = _identifiers(customer)
    now = timezone.now()
    with maintenance_transaction(tenant) as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, str(customer.pk)]
        )
        if not cursor.fetchone()[0]:
            raise ErasureBusy()
        if not customer_anonymise(cursor=cursor, customer=customer, now=now):  # erased meanwhile
            transaction.set_rollback(True, using=cursor.db.alias)
            customer.refresh_from_db()
            return {"id": str(customer.pk), "erased_at": customer.erased_at.isoformat(), "rewritten": {}}
        # The platform's memory of it, outside the tenant's backups: every restore replays it.
        ledger_record(cursor=cursor, tenant_id=tenant.pk, customer_id=customer.pk, erased_at=now, by=actor.pk)
        progress(10)
        records_forget(cursor=cursor, tenant_id=tenant.pk, customer_id=customer.pk)
        progress(20)
        # After the writes above: their change-log entries are rewritten too.
        redacted = audit_redact(
            cursor=cursor, tenant_id=tenant.pk, customer_id=customer.pk, identifiers=identifiers
        )
        progress(80)
        counts = {table: len(ids) for table, ids in redacted["entries"].items()}
        cursor.execute(
            "INSERT INTO exports_customerrequest (id, tenant_id, kind, customer_id, actor_id, detail, created_at) "
            "VALUES (gen_random_uuid(), %s, 'erase', %s, %s, %s, %s)",
            [tenant.pk, customer.pk, actor.pk, json.dumps({"reason": reason, "rewritten": counts}), now],
        )
    progress(90)
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
    return {"id": str(customer.pk), "erased_at": now.isoformat(), "rewritten": counts}


# --- the erasure ledger: erasures that stay erased when a backup is restored --------------


def ledger_record(*, cursor, tenant_id, customer_id, erased_at, by) -> None:
    """Remember an erasure in the platform's ledger (ids and time only), in the erasing transaction."""
    cursor.execute(
        "INSERT INTO exports_erasureledgerentry (subject_tenant_id, customer_id, erased_at, erased_by) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (subject_tenant_id, customer_id) DO NOTHING",
        [tenant_id, customer_id, erased_at, by],
    )


def erasures_replay(*, cursor, source_id, target: Tenant, customer_map: str | None = None) -> list[dict]:
    """Erase again, in rows just restored into `target`, every customer the ledger of `source_id`
    names: the backup may predate their erasure. In the restore's own transaction (the target
    selected), so the restored tenant is never visible with them. `customer_map`: the temporary
    table mapping the backup's customer ids to the target's (a restore into a new tenant), whose
    ledger then gets the same entries. Returns what `exemption_record` must be told after commit.
    """
    cursor.execute(
        "SELECT customer_id, erased_at, erased_by FROM exports_erasureledgerentry "
        "WHERE subject_tenant_id = %s ORDER BY id",
        [source_id],
    )
    replayed = []
    for customer_id, erased_at, erased_by in cursor.fetchall():
        target_customer = customer_id
        if customer_map:
            cursor.execute(f"SELECT new FROM {customer_map} WHERE old = %s", [customer_id])  # noqa: S608
            row = cursor.fetchone()
            if row is None:
                continue
            target_customer = row[0]
            ledger_record(
                cursor=cursor,
                tenant_id=target.pk,
                customer_id=target_customer,
                erased_at=erased_at,
                by=erased_by,
            )
        with tenant_context(target):
            customer = Customer.objects.using(cursor.db.alias).filter(pk=target_customer).first()
            if customer is None or customer.erased_at is not None:
                continue
            identifiers = _identifiers(customer)
        customer_anonymise(cursor=cursor, customer=customer, now=erased_at)
        records_forget(cursor=cursor, tenant_id=target.pk, customer_id=customer.pk)
        redacted = audit_redact(
            cursor=cursor, tenant_id=target.pk, customer_id=customer.pk, identifiers=identifiers
        )
        replayed.append(
            {"reason": "erasure replayed after a restore", "customer": str(customer.pk), **redacted}
        )
    return replayed


def erasures_replayed_record(*, tenant: Tenant, replayed: list[dict]) -> None:
    """After the restore committed: each replay's audit rewrites as a sealed exemption."""
    for detail in replayed:
        exemption_record(kind="audit_redacted", tenant=tenant, actor="restore", detail=detail)


# --- erasure as a job: asked for by a request, run by the privileged worker ----------------


def customer_erasure_request(*, customer: Customer, actor, reason: str) -> CustomerErasure:
    """Ask for the customer's erasure: a job the privileged worker runs after commit.

    What only the request can tell is checked here: the permission, a sign-in with a second
    factor (403 `second_factor_required`) and the reason. Idempotent: while an erasure of the
    customer is queued or running, that one is the answer; once the customer is erased, the last
    erasure done.
    """
    if not authz.can(actor, ERASE_CUSTOMERS):
        raise PermissionDenied(gettext("Erasing a customer needs the erase_customers permission."))
    if not authz.second_factor_verified(actor):
        raise Forbidden(
            gettext("Erasing a customer needs a sign-in with a second factor."), code="second_factor_required"
        )
    reason = _reason_clean(reason)
    active = CustomerErasure.objects.filter(
        customer_id=customer.pk, status__in=CustomerErasure.ACTIVE
    ).first()
    if active is not None:
        return active
    if customer.erased_at is not None:
        done = CustomerErasure.objects.filter(
            customer_id=customer.pk, status=CustomerErasure.Status.DONE
        ).first()
        if done is not None:
            return done
    try:
        with transaction.atomic():
            erasure = CustomerErasure.objects.create(
                customer_id=customer.pk, requested_by=actor, reason=reason
            )
    except IntegrityError:  # a concurrent request made the active one first
        return CustomerErasure.objects.get(customer_id=customer.pk, status__in=CustomerErasure.ACTIVE)
    _erasure_enqueue(erasure)
    return erasure


def _erasure_enqueue(erasure: CustomerErasure) -> None:
    from exports.tasks import customer_erasure_run_task

    args = (str(erasure.tenant_id), str(erasure.pk))
    transaction.on_commit(lambda: customer_erasure_run_task.delay(*args))


def customer_erasure_get(*, erasure_id) -> CustomerErasure:
    """The current tenant's erasure job; another tenant's, or none, is not found alike."""
    erasure = CustomerErasure.objects.filter(pk=erasure_id).first()
    if erasure is None:
        raise NotFound(gettext("No such erasure."))
    return erasure


def _erasure_claim(erasure_id) -> bool:
    now = timezone.now()
    claimed = CustomerErasure.objects.filter(
        Q(status=CustomerErasure.Status.QUEUED)
        | Q(status=CustomerErasure.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=STALE_SECONDS)),
        pk=erasure_id,
    ).update(
        status=CustomerErasure.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        error="",
    )
    return claimed == 1


@as_maintenance()
def customer_erasure_run(*, tenant: Tenant, erasure_id) -> CustomerErasure:
    """Claim and run an erasure job (the privileged worker); a job done or held elsewhere is left."""
    with tenant_context(tenant):
        erasure = CustomerErasure.objects.select_related("requested_by").get(pk=erasure_id)
        if erasure.status not in CustomerErasure.ACTIVE or not _erasure_claim(erasure.pk):
            return erasure

        def progress(percent: int) -> None:
            CustomerErasure.objects.filter(pk=erasure.pk).update(
                progress=percent, heartbeat_at=timezone.now()
            )

        try:
            customer = Customer.objects.get(pk=erasure.customer_id)
            result = customer_erase(
                customer=customer, actor=erasure.requested_by, reason=erasure.reason, on_progress=progress
            )
        except ErasureBusy:
            CustomerErasure.objects.filter(pk=erasure.pk).update(status=CustomerErasure.Status.QUEUED)
            raise
        except Exception as error:
            CustomerErasure.objects.filter(pk=erasure.pk).update(
                status=CustomerErasure.Status.FAILED, error=type(error).__name__, finished_at=timezone.now()
            )
            logger.exception("erasure %s of %s failed", erasure.pk, tenant.slug)
            raise
        CustomerErasure.objects.filter(pk=erasure.pk).update(
            status=CustomerErasure.Status.DONE,
            progress=100,
            result=result["rewritten"],
            erased_at=result["erased_at"],
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        erasure.refresh_from_db()
    logger.info("erasure %s of %s done: %s", erasure.pk, tenant.slug, erasure.result)
    return erasure
