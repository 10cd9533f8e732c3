"""Z reports are immutable for the application, yet a restore (same tenant or new) and a purge,
which run on the privileged path, carry them or remove them like every other row."""

import io
from decimal import Decimal

from django.core.management import call_command

from inventory.models import Shift, ShiftReport
from inventory.services.shifts import shift_close, shift_open
from lifecycle.models import Backup
from lifecycle.services.purge import tenant_purge, tenant_terminate
from tenants.context import tenant_context
from tenants.models import Store, Tenant
from tests.conftest import transactional
from tests.lifecycle.conftest import tenant_rows

pytestmark = transactional


def a_closed_shift(tenant) -> ShiftReport:
    from accounts.models import User

    with tenant_context(tenant):
        store = Store.objects.get(code="S1")  # where cody works
        cody = User.objects.get(username="cody")
        shift = shift_open(store=store, register="1", opening_float=Decimal("50.00"), actor=cody)
        return shift_close(shift=shift, counted_cash=Decimal("49.50"), actor=cody)


def backup_now(tenant) -> Backup:
    out = io.StringIO()
    call_command("backup_tenant", tenant.slug, "--no-progress", stdout=out, stderr=io.StringIO())
    return Backup.objects.get(pk=out.getvalue().strip())


def test_a_restore_into_the_same_tenant_and_into_a_new_one_carries_the_z_reports(chain):
    report = a_closed_shift(chain)
    backup = backup_now(chain)
    call_command("restore_tenant", str(backup.pk), "--yes", stdout=io.StringIO())
    with tenant_context(chain):
        assert ShiftReport.objects.get(pk=report.pk).data["over_short"] == "-0.50"
    call_command("restore_tenant", str(backup.pk), "--as", "alice-copy", stdout=io.StringIO())
    copy = Tenant.objects.get(slug="alice-copy")
    with tenant_context(copy):
        copied = ShiftReport.objects.get()
        assert copied.data["counted_cash"] == "49.50" and Shift.objects.get().status == "closed"


def test_a_purge_removes_the_z_reports_with_the_rest(chain):
    a_closed_shift(chain)
    tenant_terminate(tenant=chain)
    tenant_purge(tenant=chain, requested_by="test")
    assert tenant_rows(chain) == {}
