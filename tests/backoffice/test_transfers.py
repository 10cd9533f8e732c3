"""Transfers in transit: in neither store's stock until received, received once, with discrepancies."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from backoffice.models import Transfer
from backoffice.services.transfers import ArrivalInput, TransferLineInput, transfer_receive, transfer_send
from core.errors import Conflict
from inventory.errors import InsufficientStock
from inventory.models import StockMovement
from tenants.context import tenant_context
from tests.conftest import make_user
from tests.inventory.conftest import ledger_sum, stock_of


def send(tenant, source, destination, lines: dict, actor=None, note=""):
    with tenant_context(tenant):
        return transfer_send(
            from_store=source,
            to_store=destination,
            lines=[TransferLineInput(product=p, quantity=q) for p, q in lines.items()],
            actor=actor,
            note=note,
        )


def arrive(tenant, transfer, arrived: dict | None = None, actor=None, note=""):
    with tenant_context(tenant):
        lines = {line.product_id: line for line in transfer.lines.all()}
        arrivals = None
        if arrived is not None:
            arrivals = [ArrivalInput(line=lines[p.pk], quantity=q) for p, q in arrived.items()]
        return transfer_receive(transfer=transfer, arrivals=arrivals, actor=actor, note=note)


def test_a_transfer_in_transit_is_in_neither_stores_stock_and_arrives_once(
    tenant_a, stores_a, beans, filters
):
    main, harbour = stores_a
    transfer = send(tenant_a, main, harbour, {beans: 6, filters: 4})
    assert transfer.status == "in_transit"
    assert stock_of(tenant_a, main, beans) == 4 and stock_of(tenant_a, harbour, beans) == 0
    assert stock_of(tenant_a, main, filters) == 0 and stock_of(tenant_a, harbour, filters) == 0
    with tenant_context(tenant_a):
        out = StockMovement.objects.filter(transfer_id=transfer.pk)
        assert sorted(out.values_list("kind", "quantity")) == [("transfer_out", -6), ("transfer_out", -4)]

    received = arrive(tenant_a, transfer)
    assert received.status == "received" and received.received_at is not None
    assert stock_of(tenant_a, harbour, beans) == 6 == ledger_sum(tenant_a, harbour, beans)
    assert stock_of(tenant_a, harbour, filters) == 4 == ledger_sum(tenant_a, harbour, filters)
    with pytest.raises(Conflict):
        arrive(tenant_a, transfer)
    assert stock_of(tenant_a, harbour, beans) == 6  # not twice
    with tenant_context(tenant_a):
        legs = StockMovement.objects.filter(transfer_id=transfer.pk, kind="transfer_in")
        assert legs.count() == 2


def test_less_arriving_needs_a_discrepancy_note_and_the_missing_units_reach_no_store(
    tenant_a, stores_a, beans
):
    main, harbour = stores_a
    transfer = send(tenant_a, main, harbour, {beans: 6})
    with pytest.raises(ValidationError) as refused:
        arrive(tenant_a, transfer, {beans: 5})
    assert "note" in refused.value.message_dict
    assert stock_of(tenant_a, harbour, beans) == 0
    with pytest.raises(ValidationError):
        arrive(tenant_a, transfer, {beans: 7}, note="more than sent")
    received = arrive(tenant_a, transfer, {beans: 5}, note="one jar broken on the way")
    assert received.discrepancy_note == "one jar broken on the way"
    with tenant_context(tenant_a):
        assert transfer.lines.get().received == 5
    assert stock_of(tenant_a, main, beans) == 4 and stock_of(tenant_a, harbour, beans) == 5


def test_the_sender_needs_transfer_stock_in_the_source_only_and_the_receiver_rights_at_the_destination(
    tenant_a, stores_a, beans, cast_a
):
    main, harbour = stores_a
    # The store manager works in the main store only: they may send to the harbour store...
    transfer = send(tenant_a, main, harbour, {beans: 2}, actor=cast_a["store_manager"])
    assert transfer.sent_by == cast_a["store_manager"]
    # ...but not receive there, nor send from there.
    with pytest.raises(PermissionDenied):
        arrive(tenant_a, transfer, actor=cast_a["store_manager"])
    with pytest.raises(PermissionDenied):
        send(tenant_a, harbour, main, {beans: 1}, actor=cast_a["store_manager"])
    with pytest.raises(PermissionDenied):
        send(tenant_a, main, harbour, {beans: 1}, actor=cast_a["cashier"])
    assert stock_of(tenant_a, harbour, beans) == 0
    harbour_manager = make_user(tenant_a, "hana", "store_manager", [harbour])
    arrive(tenant_a, transfer, actor=harbour_manager)
    assert stock_of(tenant_a, harbour, beans) == 2
    with tenant_context(tenant_a):
        assert Transfer.objects.get(pk=transfer.pk).received_by == harbour_manager


def test_sending_more_than_the_store_holds_is_refused_whole(tenant_a, stores_a, beans, filters):
    main, harbour = stores_a
    with pytest.raises(InsufficientStock):
        send(tenant_a, main, harbour, {beans: 2, filters: 5})
    assert stock_of(tenant_a, main, beans) == 10 and stock_of(tenant_a, main, filters) == 4
    with tenant_context(tenant_a):
        assert not Transfer.objects.exists()


def test_bad_transfers_are_refused(tenant_a, stores_a, beans):
    main, harbour = stores_a
    for destination, lines in ((main, {beans: 1}), (harbour, {}), (harbour, {beans: 0})):
        with pytest.raises(ValidationError):
            send(tenant_a, main, destination, lines)
    assert stock_of(tenant_a, main, beans) == 10
