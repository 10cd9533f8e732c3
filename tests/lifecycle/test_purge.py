"""The purge from the attacker's side: keys first, every step resumable, every table covered."""

import io
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from accounts.sessions import SESSION_TENANT
from auditlog.services import platform_event_record
from core.storage import storage_for_tenant
from lifecycle.archive import ArchiveError
from lifecycle.models import PurgeCertificate
from lifecycle.services.backups import archive_verify
from lifecycle.services.purge import STEPS, tenant_purge, tenant_terminate
from tenants.checks import every_table_is_covered_by_the_purge
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Tenant, TenantKey
from tests.conftest import DATABASES, make_tenant, role_connection
from tests.lifecycle.conftest import backup_now, tenant_rows

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)


class Killed(Exception):
    pass


def owner_sql(sql: str, params=()):
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def user_id(tenant, username):
    from accounts.models import User

    with tenant_context(tenant):
        return User.objects.get(username=username).pk


def session_of(tenant_id) -> str:
    from django.contrib.sessions.backends.cache import SessionStore

    session = SessionStore()
    session[SESSION_TENANT] = str(tenant_id)
    session["_auth_user_id"] = "someone"
    session.save()
    return session.session_key


def session_exists(key) -> bool:
    return cache.get(f"django.contrib.sessions.cache{key}") is not None


def certificate_of(tenant) -> PurgeCertificate:
    with as_maintenance():
        return PurgeCertificate.objects.get(subject_tenant=tenant.pk)


@pytest.mark.parametrize("step", STEPS)
def test_a_purge_killed_after_each_step_finishes_on_rerun(chain, file_storage, settings, tmp_path, step):
    settings.KASSA_WORK_DIR = tmp_path / "work"
    backup = backup_now(chain)
    old_copy = b"".join(storage_for_tenant(chain).get(backup.object_key))
    owner_sql(  # the admin history that made the purge fail before (issue 15)
        "INSERT INTO django_admin_log (action_time, object_id, object_repr, action_flag, change_message, user_id) "
        "VALUES (now(), '1', 'Zelda Quartermaine', 1, '[]', %s)",
        [user_id(chain, "alice")],
    )
    session = session_of(chain.pk)
    leftover = settings.KASSA_WORK_DIR / str(chain.pk) / "export-x" / "export.zip"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"PK decrypted")
    tenant_terminate(tenant=chain)
    before = tenant_rows(chain)

    def kill(name):
        if name == step:
            raise Killed(name)

    with pytest.raises(Killed):
        tenant_purge(tenant=chain, requested_by="test", on_step=kill)

    # Whatever step it died after, the data keys are gone: nothing of the tenant decrypts.
    with tenant_context(chain):
        assert not TenantKey.objects.exists()
        with pytest.raises(ArchiveError):
            archive_verify(tenant=chain, backup_id=backup.pk, chunks=[old_copy])
    chain.refresh_from_db()
    assert chain.status == Tenant.Status.TERMINATED
    assert certificate_of(chain).steps_done == list(STEPS[: STEPS.index(step) + 1])

    certificate = tenant_purge(tenant=chain, requested_by="test")

    assert certificate.status == PurgeCertificate.Status.COMPLETE and certificate.runs == 2
    assert certificate.steps_done == list(STEPS)
    assert tenant_rows(chain) == {}
    assert owner_sql("SELECT count(*) FROM django_admin_log") == [(0,)]
    assert list(storage_for_tenant(chain).list(f"tenants/{chain.pk}/")) == []
    assert not session_exists(session) and not leftover.exists()
    assert certificate.data_keys_destroyed == 1 and len(certificate.key_ids) == 1
    assert certificate.key_ids[0]["version"] == 1 and certificate.key_ids[0]["kek_id"]
    assert certificate.rows_deleted["django_admin_log"] == 1
    assert certificate.rows_deleted["lifecycle_backup"] == 1
    for table, count in before.items():
        if table != "tenants_tenantkey":
            assert certificate.rows_deleted[table] >= count, table
    assert certificate.objects_deleted == {"local": 2}  # the backup and its wrapped keys beside it
    assert certificate.cleared["sessions"] == 1 and certificate.cleared["temp_files"] == 1
    assert "zelda" not in json.dumps(certificate.rows_deleted).lower()


def test_the_purge_takes_only_its_tenants_sessions_platform_events_and_files(chain, settings, tmp_path):
    from auditlog.models import PlatformEvent

    settings.KASSA_WORK_DIR = tmp_path / "work"
    bob = make_tenant("bob-chain", owner="bob")
    ours, theirs = session_of(chain.pk), session_of(bob.pk)
    (settings.KASSA_WORK_DIR / str(bob.pk)).mkdir(parents=True)
    (settings.KASSA_WORK_DIR / str(bob.pk) / "keep").write_bytes(b"x")
    cache.set(f"something:{bob.pk}", 1)
    cache.set(f"something:{chain.pk}", 1)
    for tenant in (chain, bob):  # through kassa_platform_event(), as every platform event
        platform_event_record(kind="tenant_suspended", tenant=tenant)
    with as_maintenance():
        bobs_events = PlatformEvent.objects.filter(subject_tenant=bob.pk).count()
    tenant_terminate(tenant=chain)
    call_command("purge_tenant", chain.slug, "--now", "--yes", stdout=io.StringIO())

    assert not session_exists(ours) and session_exists(theirs)
    assert cache.get(f"something:{chain.pk}") is None and cache.get(f"something:{bob.pk}") == 1
    assert (settings.KASSA_WORK_DIR / str(bob.pk) / "keep").exists()
    assert not (settings.KASSA_WORK_DIR / str(chain.pk)).exists()
    with as_maintenance():
        assert not PlatformEvent.objects.filter(subject_tenant=chain.pk).exists()
        assert PlatformEvent.objects.filter(subject_tenant=bob.pk).count() == bobs_events
    assert certificate_of(chain).rows_deleted["auditlog_platformevent"] >= 1


def test_platform_events_of_a_live_tenant_cannot_be_deleted_and_the_app_role_may_not_try(chain):
    from auditlog.models import PlatformEvent

    platform_event_record(kind="tenant_suspended", tenant=chain)
    with as_maintenance():
        event = PlatformEvent.objects.filter(subject_tenant=chain.pk, kind="tenant_suspended").latest("id")
    with role_connection("maintenance") as connection:
        deleted = connection.execute("SELECT kassa_platform_events_delete(ARRAY[%s]::bigint[])", [event.pk])
        assert deleted.fetchone()[0] == 0  # the tenant is active
        with pytest.raises(Exception, match="permission denied"):  # no DELETE privilege at all
            connection.execute("DELETE FROM auditlog_platformevent WHERE id = %s", [event.pk])
    with role_connection("app") as connection, pytest.raises(Exception, match="permission denied"):
        connection.execute("SELECT kassa_platform_events_delete(ARRAY[%s]::bigint[])", [event.pk])
    with as_maintenance():
        assert PlatformEvent.objects.filter(pk=event.pk).exists()


def test_a_table_the_purge_would_not_cover_fails_the_check_and_a_foreign_key_covers_it(chain):
    assert every_table_is_covered_by_the_purge(None, databases=["default"]) == []
    owner_sql("CREATE TABLE zz_unknown (id bigserial PRIMARY KEY, person uuid)")
    try:
        errors = every_table_is_covered_by_the_purge(None, databases=["default"])
        assert [e.id for e in errors] == ["kassa.E003"] and "zz_unknown" in errors[0].msg

        # With a foreign key to the tenant's users it is covered, and the purge empties it.
        owner_sql(
            "ALTER TABLE zz_unknown ADD FOREIGN KEY (person) REFERENCES accounts_user (id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
        assert every_table_is_covered_by_the_purge(None, databases=["default"]) == []
        bob = make_tenant("bob-chain", owner="bob")
        owner_sql(
            "INSERT INTO zz_unknown (person) VALUES (%s), (%s)", [user_id(chain, "sam"), user_id(bob, "bob")]
        )
        tenant_terminate(tenant=chain)
        certificate = tenant_purge(tenant=chain, requested_by="test")
        assert certificate.rows_deleted["zz_unknown"] == 1
        assert owner_sql("SELECT person FROM zz_unknown") == [(user_id(bob, "bob"),)]
    finally:
        owner_sql("DROP TABLE IF EXISTS zz_unknown")


def test_failed_sign_in_records_expire(chain, settings):
    from axes.models import AccessAttempt

    from accounts.tasks import access_attempts_expire_task

    now = timezone.now()
    with tenant_context(chain):
        for age in (0, 6, 8, 30):
            attempt = AccessAttempt.objects.create(
                username=f"who{age}",
                ip_address="10.0.0.1",
                user_agent="curl",
                failures_since_start=1,
                get_data="",
                post_data="otp=123456",
            )
            AccessAttempt.objects.filter(pk=attempt.pk).update(
                attempt_time=now - timedelta(days=age, hours=1)
            )
    bob = make_tenant("bob-chain", owner="bob")
    with tenant_context(bob):
        attempt = AccessAttempt.objects.create(username="b", ip_address="10.0.0.2", failures_since_start=1)
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=now - timedelta(days=30))

    assert access_attempts_expire_task() == 3

    with tenant_context(chain):
        assert sorted(AccessAttempt.objects.values_list("username", flat=True)) == ["who0", "who6"]
    with tenant_context(bob):
        assert not AccessAttempt.objects.exists()


def test_the_nightly_purge_alerts_on_a_failing_tenant_and_purges_the_others(chain, settings):
    from django.core import mail

    from lifecycle.tasks import tenants_purge_due_task

    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bob = make_tenant("bob-chain", owner="bob")
    owner_sql("CREATE TABLE zz_blocker (id bigserial PRIMARY KEY, person uuid REFERENCES accounts_user (id))")
    try:
        owner_sql(  # a row the purge must delete, which the database refuses to delete
            "CREATE FUNCTION zz_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused'; END $$"
        )
        owner_sql(
            "CREATE TRIGGER zz_refuse BEFORE DELETE ON zz_blocker FOR EACH ROW EXECUTE FUNCTION zz_refuse()"
        )
        owner_sql("INSERT INTO zz_blocker (person) VALUES (%s)", [user_id(chain, "alice")])
        long_ago = timezone.now() - timedelta(days=40)
        for tenant in (chain, bob):
            tenant_terminate(tenant=tenant, ends_at=long_ago)

        assert tenants_purge_due_task() == ["bob-chain"]

        assert Tenant.objects.get(pk=bob.pk).status == Tenant.Status.PURGED
        chain.refresh_from_db()
        assert chain.status == Tenant.Status.TERMINATED
        assert certificate_of(chain).steps_done == ["keys"]  # shredded all the same
        assert len(mail.outbox) == 1 and "purge_failed" in mail.outbox[0].subject
        assert "alice-chain" in mail.outbox[0].subject
    finally:
        owner_sql("DROP TABLE IF EXISTS zz_blocker")
        owner_sql("DROP FUNCTION IF EXISTS zz_refuse()")
    assert tenants_purge_due_task() == ["alice-chain"]  # the blocker gone, the next night finishes
