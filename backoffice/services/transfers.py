"""Transfers in transit: sent from one store (stock leaves), received at the other (stock arrives).

Sending needs `transfer_stock` in the source store only; receiving needs `receive_stock` in
the destination, so the destination's stock is never changed by someone without rights
there. While in transit the units are in neither store's stock (the ledger has their
`transfer_out` and not yet their `transfer_in`). A transfer arrives once: receiving locks its
row and refuses one already received. When less arrives than was sent, a discrepancy note is
required; the missing units stay out of both stores (the ledger and the transfer show them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import RECEIVE_STOCK, TRANSFER_STOCK
from backoffice.models import Transfer, TransferLine
from backoffice.services._bulk import rows_update
from backoffice.services._numbers import number_next
from core.errors import Conflict
from inventory.models import Product
from inventory.services._rules import require
from inventory.services.stock import StockItem, stock_transfer_arrive, stock_transfer_send
from tenants.models import Store

MAX_LINES = 1000
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class TransferLineInput:
    product: Product
    quantity: int


@dataclass(frozen=True)
class ArrivalInput:
    line: TransferLine
    quantity: int


@transaction.atomic
def transfer_send(
    *, from_store: Store, to_store: Store, lines: Sequence[TransferLineInput], actor, note: str = ""
) -> Transfer:
    """Send stock on its way: it leaves `from_store` now and is in transit until received."""
    require(actor, TRANSFER_STOCK, from_store)
    if from_store.pk == to_store.pk:
        raise ValidationError({"to_store": _("A transfer needs two different stores.")})
    if not to_store.active:
        raise ValidationError({"to_store": _("%(store)s is closed.") % {"store": to_store.name}})
    if not lines or len(lines) > MAX_LINES:
        raise ValidationError({"lines": _("Send 1 to %(n)d lines.") % {"n": MAX_LINES}})
    seen = set()
    for index, line in enumerate(lines, start=1):
        if not isinstance(line.quantity, int) or not 0 < line.quantity <= MAX_QUANTITY:
            raise ValidationError(
                {"lines": _("Line %(n)d: the quantity must be 1 to 1,000,000.") % {"n": index}}
            )
        if line.product.pk in seen:
            raise ValidationError(
                {
                    "lines": _("Line %(n)d: %(sku)s is on the transfer twice.")
                    % {"n": index, "sku": line.product.sku}
                }
            )
        seen.add(line.product.pk)
    transfer = Transfer.objects.create(
        number=number_next("transfer"),
        from_store=from_store,
        to_store=to_store,
        note=note[:500],
        sent_by=actor,
    )
    TransferLine.objects.bulk_create(
        [
            TransferLine(
                tenant_id=transfer.tenant_id, transfer=transfer, product=line.product, quantity=line.quantity
            )
            for line in lines
        ]
    )
    stock_transfer_send(
        store=from_store,
        items=[StockItem(product=line.product, quantity=line.quantity) for line in lines],
        transfer_id=transfer.pk,
        actor=actor,
        reason=f"Transfer {transfer.number} to {to_store.name}",  # stored: the same words whoever sends
    )
    return transfer


@transaction.atomic
def transfer_receive(
    *, transfer: Transfer, actor, arrivals: Sequence[ArrivalInput] | None = None, note: str = ""
) -> Transfer:
    """Take a transfer in at its destination, once. `arrivals` names what came of each line
    (a line left out arrived in full); less than was sent needs a `note` saying what happened."""
    require(actor, RECEIVE_STOCK, transfer.to_store)
    transfer = (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("from_store", "to_store")
        .get(pk=transfer.pk)
    )
    if transfer.status != Transfer.Status.IN_TRANSIT:
        raise Conflict(_("Transfer %(number)s has already been received.") % {"number": transfer.number})
    lines = list(TransferLine.objects.filter(transfer=transfer).select_related("product").order_by("pk"))
    by_id = {line.pk: line for line in lines}
    arrived = {line.pk: line.quantity for line in lines}
    for item in arrivals or ():
        line = by_id.get(item.line.pk)
        if line is None:
            raise ValidationError(
                {"lines": _("Not a line of this transfer: %(line)s.") % {"line": item.line.pk}}
            )
        if not isinstance(item.quantity, int) or not 0 <= item.quantity <= line.quantity:
            raise ValidationError(
                {
                    "lines": _("%(sku)s: 0 to %(sent)d arrived.")
                    % {"sku": line.product.sku, "sent": line.quantity}
                }
            )
        arrived[line.pk] = item.quantity
    short = any(arrived[line.pk] < line.quantity for line in lines)
    note = note.strip()[:500]
    if short and not note:
        raise ValidationError({"note": _("Less arrived than was sent: say what happened.")})
    stock_transfer_arrive(
        store=transfer.to_store,
        items=[StockItem(product=line.product, quantity=arrived[line.pk]) for line in lines],
        transfer_id=transfer.pk,
        actor=actor,
        reason=f"Transfer {transfer.number} from {transfer.from_store.name}",
    )
    for line in lines:
        line.received = arrived[line.pk]
    rows_update(TransferLine, lines, ["received"])
    transfer.status = Transfer.Status.RECEIVED
    transfer.received_by = actor
    transfer.received_at = timezone.now()
    transfer.discrepancy_note = note
    transfer.save(update_fields=["status", "received_by", "received_at", "discrepancy_note"])
    return transfer
