"""Upkeep that runs (issue 14, item 5): the daily verification alerts on a broken chain and shows
the chain's owners; retention per tenant through the API; the daily purge, itself logged."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import connections, transaction
from django.utils import timezone

from auditlog.models import AccessEvent, AuditSettings, AuditVerification, PlatformEvent
from auditlog.tasks import audit_purge_task, audit_verify_task
from tenants.context import tenant_context
from tests.auditlog.test_integrity import _sealed_activity
from tests.conftest import HttpsApiClient, start_worker, stop_worker, token_for, transactional


class Receiver:
    """An HTTP server on loopback that keeps every JSON body it is sent (the alert webhook)."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def _tamper(tenant):
    with tenant_context(tenant):
        entry = AccessEvent.objects.order_by("id").first()
        with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
            cursor.execute("ALTER TABLE auditlog_access DISABLE TRIGGER auditlog_append_only")
            cursor.execute("UPDATE auditlog_access SET status = 299 WHERE id = %s", [entry.pk])
            cursor.execute("ALTER TABLE auditlog_access ENABLE TRIGGER auditlog_append_only")
    return entry


@transactional
def test_the_daily_verification_runs_in_a_worker_and_a_broken_chain_alerts(
    tenant_a, tenant_b, cast_a, cast_b, api, receiver
):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    _sealed_activity(tenant_b, api, cast_b["owner"])
    entry = _tamper(tenant_a)
    worker, _ = start_worker({"KASSA_ALERT_WEBHOOK": receiver.url})
    try:
        result = audit_verify_task.delay().get(timeout=120)
    finally:
        stop_worker(worker)
    assert result[tenant_a.slug] is False and result[tenant_b.slug] is True
    (alert,) = [a for a in receiver.received if a["kind"] == "audit_verification_failed"]
    assert alert["tenant"] == tenant_a.slug and f"access entry {entry.pk}" in alert["detail"]
    with tenant_context(tenant_a):
        (seen,) = AuditVerification.objects.all()
        assert not seen.intact and f"access entry {entry.pk}" in seen.first_problem
    with tenant_context(tenant_b):
        assert AuditVerification.objects.get().intact
    answer = HttpsApiClient(token_for(cast_a["owner"])).get("/api/v1/audit/settings/")
    assert answer.json()["last_verification"]["intact"] is False
    with tenant_context(None):
        assert PlatformEvent.objects.filter(kind="audit_verified", subject_tenant=tenant_a.pk).exists()


@transactional
def test_the_daily_purge_runs_in_a_worker_keeps_the_retention_and_is_logged(tenant_a, cast_a, api):
    client = HttpsApiClient(token_for(cast_a["owner"]))
    assert client.patch("/api/v1/audit/settings/", {"retention_days": 365}).status_code == 200
    with tenant_context(tenant_a):
        old = AccessEvent.objects.create(
            tenant_id=tenant_a.pk,
            request_id="00000000-0000-0000-0000-000000000001",
            host="x",
            method="GET",
            path="/old/",
            status=200,
            duration_ms=1,
            created_at=timezone.now() - timedelta(days=370),
        )
        kept = AccessEvent.objects.create(
            tenant_id=tenant_a.pk,
            request_id="00000000-0000-0000-0000-000000000002",
            host="x",
            method="GET",
            path="/recent/",
            status=200,
            duration_ms=1,
            created_at=timezone.now() - timedelta(days=360),
        )
    worker, _ = start_worker(privileged=True)  # the purge deletes audit entries: the privileged queue
    try:
        deleted = audit_purge_task.delay().get(timeout=120)
        again = audit_purge_task.delay().get(timeout=120)
    finally:
        stop_worker(worker)
    assert deleted[tenant_a.slug] >= 1 and again[tenant_a.slug] == 0
    with tenant_context(tenant_a):
        assert not AccessEvent.objects.filter(pk=old.pk).exists()
        assert AccessEvent.objects.filter(pk=kept.pk).exists()
    with tenant_context(None):
        purge = PlatformEvent.objects.filter(kind="audit_purged", subject_tenant=tenant_a.pk).first()
        assert purge is not None and purge.detail["retention_days"] == 365


def test_audit_settings_are_read_by_log_readers_and_changed_by_owners_only(db, cast_a, tenant_a):
    allowed_to_read = {"owner", "auditor"}
    for role, user in cast_a.items():
        client = HttpsApiClient(token_for(user))
        read = client.get("/api/v1/audit/settings/")
        assert read.status_code == (200 if role in allowed_to_read else 403), role
        changed = client.patch("/api/v1/audit/settings/", {"retention_days": 500})
        assert changed.status_code == (200 if role == "owner" else 403), role
    with tenant_context(tenant_a):
        assert AuditSettings.objects.get().retention_days == 500


@pytest.mark.parametrize("bad", [364, 0, -1, "abc", "\x00", 10**30, "365" * 4000, None])
def test_bad_retention_is_400_and_changes_nothing(db, cast_a, tenant_a, bad):
    client = HttpsApiClient(token_for(cast_a["owner"]))
    answer = client.patch("/api/v1/audit/settings/", {"retention_days": bad})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"
    assert "retention_days" in answer.json()["fields"]
    assert (
        client.get("/api/v1/audit/settings/").json()["retention_days"] == AuditSettings.DEFAULT_RETENTION_DAYS
    )


def test_each_tenant_sees_and_sets_only_its_own_retention(db, cast_a, cast_b, tenant_a, tenant_b):
    HttpsApiClient(token_for(cast_a["owner"])).patch("/api/v1/audit/settings/", {"retention_days": 700})
    bob = HttpsApiClient(token_for(cast_b["owner"]))
    assert bob.get("/api/v1/audit/settings/").json()["retention_days"] == AuditSettings.DEFAULT_RETENTION_DAYS
    with tenant_context(tenant_b):
        assert not AuditSettings.objects.exists()
    with tenant_context(tenant_a):
        assert AuditSettings.objects.get().retention_days == 700


@transactional
def test_the_chains_owners_see_a_failed_verification_on_the_admin_dashboard(tenant_a, cast_a, api):
    from auditlog.services import audit_verify
    from tests.conftest import signed_in

    _sealed_activity(tenant_a, api, cast_a["owner"])
    assert b'id="audit-broken"' not in signed_in(cast_a["owner"]).get("/admin/", secure=True).content
    entry = _tamper(tenant_a)
    assert audit_verify(tenant=tenant_a)["intact"] is False
    page = signed_in(cast_a["owner"]).get("/admin/", secure=True)
    assert b'id="audit-broken"' in page.content and f"access entry {entry.pk}".encode() in page.content
    manager_page = signed_in(cast_a["store_manager"]).get("/admin/", secure=True)
    assert b'id="audit-broken"' not in manager_page.content  # not theirs to see


@transactional
def test_the_purge_command_keeps_what_the_retention_keeps(tenant_a, capsys):
    from django.core.management import call_command

    call_command("purge_audit", tenant_a.slug)
    assert f"{tenant_a.slug}: 0 entries before" in capsys.readouterr().out
