from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.utils import ProgrammingError
from django.utils import timezone

from auditlog import sealing
from auditlog.models import AccessEvent, ChangeEvent, PlatformEvent, SignInEvent
from auditlog.services import audit_purge, retention_days_set
from tenants.context import tenant_context
from tests.conftest import transactional

AUDIT_TABLES = [
    "auditlog_access",
    "auditlog_apicall",
    "auditlog_signinevent",
    "auditlog_change",
    "auditlog_seal",
    "auditlog_sealedentry",
    "auditlog_platformevent",
]


@pytest.mark.parametrize("table", AUDIT_TABLES)
@pytest.mark.parametrize("statement", ["UPDATE {} SET id = id", "DELETE FROM {}"])
def test_the_application_role_cannot_update_or_delete_audit_rows(db, tenant_a, table, statement):
    refused = pytest.raises(ProgrammingError, match="permission denied")
    with tenant_context(tenant_a), refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table))


@transactional
def test_the_owner_is_refused_too_outside_the_purge(tenant_a, api, cast_a):
    api(cast_a["owner"]).get("/api/v1/me/")
    with tenant_context(tenant_a):
        with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic(using="owner"):
            connections["owner"].cursor().execute("UPDATE auditlog_access SET status = 200")
        with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic(using="owner"):
            connections["owner"].cursor().execute("DELETE FROM auditlog_change")


def _sealed_activity(tenant, api, user):
    for _ in range(3):
        api(user).get("/api/v1/me/")
    call_command("seal_audit", tenant.slug)


def _verify(tenant, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        call_command("verify_audit", tenant.slug)
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


@transactional
def test_an_intact_chain_verifies(tenant_a, cast_a, api, capsys):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    api(cast_a["owner"]).get("/api/v1/me/")  # after the seal: unsealed, not an error
    code, output = _verify(tenant_a, capsys)
    assert code == 0, output
    assert "intact" in output


@transactional
def test_altering_a_sealed_entry_fails_verification_and_names_it(tenant_a, cast_a, api, capsys):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    with tenant_context(tenant_a):
        entry = AccessEvent.objects.order_by("id").first()
        with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
            cursor.execute("ALTER TABLE auditlog_access DISABLE TRIGGER auditlog_append_only")
            cursor.execute("UPDATE auditlog_access SET status = 204 WHERE id = %s", [entry.pk])
            cursor.execute("ALTER TABLE auditlog_access ENABLE TRIGGER auditlog_append_only")
    code, output = _verify(tenant_a, capsys)
    assert code == 1
    assert f"altered: access entry {entry.pk}" in output


@transactional
def test_deleting_a_sealed_entry_fails_verification_and_names_it(tenant_a, cast_a, api, capsys):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    with tenant_context(tenant_a):
        entry = ChangeEvent.objects.order_by("id").last()
        with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
            # An intruder with the owner's credentials: the trigger refuses, so it is switched off.
            cursor.execute("ALTER TABLE auditlog_change DISABLE TRIGGER auditlog_append_only")
            cursor.execute("DELETE FROM auditlog_change WHERE id = %s", [entry.pk])
            cursor.execute("ALTER TABLE auditlog_change ENABLE TRIGGER auditlog_append_only")
    code, output = _verify(tenant_a, capsys)
    assert code == 1
    assert f"missing: change entry {entry.pk}" in output


@transactional
def test_an_entry_inserted_into_the_sealed_past_is_found(tenant_a, cast_a, api, capsys):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    with tenant_context(tenant_a):
        forged = SignInEvent.objects.create(
            username="alice", outcome="success", channel="api", created_at=timezone.now() - timedelta(days=1)
        )
    code, output = _verify(tenant_a, capsys)
    assert code == 1
    assert f"inserted: signin entry {forged.pk}" in output


@transactional
def test_the_purge_keeps_a_year_and_logs_itself(tenant_a, cast_a, api, capsys):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    with pytest.raises(Exception, match="365"):
        retention_days_set(tenant=tenant_a, days=100)
    retention_days_set(tenant=tenant_a, days=365)
    with tenant_context(tenant_a):
        before = AccessEvent.objects.count()
    result = audit_purge(tenant=tenant_a, now=timezone.now() + timedelta(days=366))
    with tenant_context(tenant_a):
        assert AccessEvent.objects.count() < before
    assert result["deleted"]["auditlog_access"] > 0
    assert PlatformEvent.objects.filter(kind="audit_purged", subject_tenant=tenant_a.pk).exists()
    code, output = _verify(tenant_a, capsys)  # purged entries are not "missing"
    assert code == 0, output


@transactional
def test_the_periodic_task_seals_every_tenant(tenant_a, tenant_b, cast_a, api, privileged_worker):
    """Only the maintenance role writes seals: the task runs on the privileged queue."""
    from auditlog.tasks import audit_seal_task

    api(cast_a["owner"]).get("/api/v1/me/")
    assert audit_seal_task.delay().get(timeout=60) == 0  # everything is younger than a minute
    sealed = audit_seal_task.delay(delay_seconds=0).get(timeout=60)
    with tenant_context(tenant_b):
        changes = ChangeEvent.objects.count()
    problems, stats = sealing.verify(tenant=tenant_b)
    assert problems == [] and stats["entries"] == changes > 0
    assert sealed >= stats["entries"] + sealing.verify(tenant=tenant_a)[1]["entries"]


@transactional
def test_tenant_creation_and_key_rotation_go_to_the_platform_log(tenant_a):
    call_command("rotate_master_key")
    created = PlatformEvent.objects.get(kind="tenant_created", subject_tenant=tenant_a.pk)
    assert created.subject_slug == "alice-chain" and created.detail == {"region": "local"}
    rotated = PlatformEvent.objects.filter(kind="master_key_rotated").latest("created_at")
    assert rotated.detail["data_keys"] == 0 and len(rotated.detail["key_id"]) == 16  # none was due
    problems, _ = sealing.verify(tenant=None)
    assert problems == []


def test_support_access_is_attributed_and_goes_to_the_platform_log(db, cast_a, api, tenant_a):
    from tests.accounts.test_support_access import grant, staff_make, support_sign_in
    from tests.conftest import HttpsApiClient

    staff_make("sally")
    grant_id = grant(api, cast_a["owner"]).json()["id"]
    client = HttpsApiClient(support_sign_in().json()["token"])
    response = client.get("/api/v1/audit/access/")
    assert response.status_code == 200
    with tenant_context(tenant_a):
        entry = AccessEvent.objects.get(request_id=response["X-Request-ID"])
    assert str(entry.support_grant_id) == grant_id and entry.token_id is not None
    event = PlatformEvent.objects.get(kind="support_access", request_id=response["X-Request-ID"])
    assert event.subject_tenant == tenant_a.pk and event.detail["support_grant"] == grant_id
