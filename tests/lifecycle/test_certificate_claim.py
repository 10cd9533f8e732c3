"""Issue 15, item 6: the purge certificate's claim token, from the attacker's side.

The first confirmation of the termination issues a token (shown once, stored as a hash on a
platform row the application role cannot read); after the purge whoever holds it fetches the
certificate on the platform host, as often as needed. Before: 409 with the purge date. A wrong
token: 404, the same for every wrong one, and rate-limited. The token never reaches a log row,
the Django log, Redis or a stored idempotent answer.
"""

import hashlib
import io
import json
import logging
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, connections
from django.db.utils import ProgrammingError

from auditlog.models import AccessEvent, ApiCall
from lifecycle import tasks
from lifecycle.models import CertificateClaim, PurgeCertificate
from lifecycle.services.claims import HEADER
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Tenant
from tests.conftest import DATABASES, HttpsApiClient, mfa_token_for

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)
URL = "/api/v1/termination/"
CLAIM = "/api/v1/purge-certificate/"


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.tenant_terminate_task, "delay", lambda *args: calls.append(args))
    return calls


def claim(token, host="127.0.0.1", address="10.9.9.9"):
    client = HttpsApiClient(host=host)
    extra = {"REMOTE_ADDR": address}
    if token is not None:
        extra[f"HTTP_{HEADER.upper().replace('-', '_')}"] = token
    return client.get(CLAIM, **extra)


def confirm(owner_client, tenant, capture):
    with capture(execute=True):
        answer = owner_client.post(URL, {"confirm": tenant.slug}, HTTP_IDEMPOTENCY_KEY="end-1")
    assert answer.status_code == 202, answer.content
    return answer


def redis_blob() -> bytes:
    redis = cache._cache.get_client(write=True)
    found = []
    for key in redis.scan_iter("*", count=1000):
        value = redis.get(key) if redis.type(key) == b"string" else b""
        found.append(key + b" " + (value or b""))
    return b"\n".join(found)


def test_the_first_confirmation_issues_one_token_that_fetches_the_certificate_after_the_purge(
    cast_a, tenant_a, tenant_b, sent, django_capture_on_commit_callbacks, caplog, settings
):
    caplog.set_level(logging.DEBUG)
    owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    first = confirm(owner, tenant_a, django_capture_on_commit_callbacks)
    token = first.json()["certificate_token"]
    assert token.startswith("kpc_") and len(token) == 47  # 256 random bits, URL-safe
    assert first.json()["certificate_claim_issued_at"] is not None
    # Stored only as its SHA-256, on a platform row the application role cannot read.
    with as_maintenance():
        (row,) = CertificateClaim.objects.all()
    assert row.subject_tenant == tenant_a.pk and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor, pytest.raises(ProgrammingError, match="permission denied"):
        cursor.execute("SELECT token_hash FROM lifecycle_certificateclaim")

    # A second confirmation (and a retry with the same Idempotency-Key): no new token, same grace.
    with as_maintenance():
        assert tasks.tenant_terminate_task(*sent[0]) == "terminated"
    tenant_a.refresh_from_db()
    ends = tenant_a.subscription_ends_at
    with django_capture_on_commit_callbacks(execute=True):
        again = owner.post(URL, {"confirm": tenant_a.slug})
        replay = owner.post(URL, {"confirm": tenant_a.slug}, HTTP_IDEMPOTENCY_KEY="end-1")
    assert again.status_code == 202 and again.json()["certificate_token"] is None
    assert again.json()["status"] == "terminated"
    assert replay.status_code == 409  # the first answer held the token: not kept for a replay
    tenant_a.refresh_from_db()
    assert tenant_a.subscription_ends_at == ends and len(sent) == 1
    with as_maintenance():
        assert CertificateClaim.objects.count() == 1

    # Before the purge: 409 with the purge date (the documented "not yet").
    early = claim(token)
    assert early.status_code == 409, early.content
    assert early.json()["code"] == "purge_not_done" and set(early.json()) >= {"detail", "fields"}
    due = ends + timedelta(days=settings.KASSA_TERMINATION_GRACE_DAYS)
    assert early.json()["purge_due_at"] == due.isoformat().replace("+00:00", "Z")

    call_command("purge_tenant", tenant_a.slug, "--now", "--yes", stdout=io.StringIO())
    fetched = [claim(token) for _ in range(3)]  # an auditor asks again: it works every time
    for answer in fetched:
        assert answer.status_code == 200, answer.content
    certificate = fetched[0].json()
    with as_maintenance():
        stored = PurgeCertificate.objects.get(subject_tenant=tenant_a.pk)
    assert certificate["id"] == str(stored.pk) and certificate["status"] == "complete"
    assert certificate["rows_deleted"] == stored.rows_deleted and certificate["data_keys_destroyed"] == 1
    assert certificate["steps_done"] == ["keys", "rows", "objects", "redis", "temp"]
    text = json.dumps(certificate).lower()
    for customer_data in ("alice", "main street", "alice chain"):
        assert customer_data not in text.replace(tenant_a.slug, "")
    # On the chain's own host (gone now) or any tenant's host: 404.
    assert claim(token, host=f"{tenant_b.slug}.localhost").status_code == 404

    # The token is nowhere: not in the access or API-call rows, the Django log, Redis.
    with tenant_context(tenant_b), connections["owner"].cursor() as cursor:
        for table in ("auditlog_access", "auditlog_apicall"):
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE row_to_json({table})::text LIKE %s", [f"%{token}%"]
            )
            assert cursor.fetchone()[0] == 0, table
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE row_to_json({table})::text LIKE %s", [f"%{token[4:20]}%"]
            )
            assert cursor.fetchone()[0] == 0, table
    with tenant_context(None):  # every attempt is logged: the platform's, and the tenant host's
        claims = AccessEvent.objects.filter(path=CLAIM)
        assert sorted(claims.values_list("status", flat=True)) == [200, 200, 200, 409]
    with tenant_context(tenant_b):
        assert list(AccessEvent.objects.filter(path=CLAIM).values_list("status", flat=True)) == [404]
    with tenant_context(tenant_b):
        assert not ApiCall.objects.filter(path=URL).exists()
    assert token not in caplog.text and token[4:20] not in caplog.text
    assert token.encode() not in redis_blob()


def test_the_api_call_log_masks_the_token_in_the_answer(
    cast_a, tenant_a, sent, django_capture_on_commit_callbacks
):
    owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    answer = confirm(owner, tenant_a, django_capture_on_commit_callbacks)
    token = answer.json()["certificate_token"]
    with tenant_context(tenant_a):
        (call,) = ApiCall.objects.filter(request_id=answer["X-Request-ID"])
    assert token not in call.response_body
    assert json.loads(call.response_body)["certificate_token"] == "[redacted]"
    assert json.loads(call.response_body)["status"] == "terminating"


def test_a_wrong_token_is_404_alike_and_limited(
    cast_a, tenant_a, sent, django_capture_on_commit_callbacks, settings
):
    owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    token = confirm(owner, tenant_a, django_capture_on_commit_callbacks).json()["certificate_token"]
    tenant_a.refresh_from_db()
    before = tenant_a.status
    wrong = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character off
        "kpc_" + "x" * 43,
        token + "x",
        token.upper(),
        "",
        None,  # no header at all
        "kpc_\u00e4\u00e4\u00e4",
        "x" * 10_000,
        "' OR 1=1 --",
    ]
    answers = [claim(value, address=f"10.8.0.{i + 1}") for i, value in enumerate(wrong)]
    for value, answer in zip(wrong, answers, strict=True):
        assert answer.status_code == 404, (value, answer.status_code)
        assert answer.json() == answers[0].json()  # no oracle: every wrong token answers alike
    tenant_a.refresh_from_db()
    assert tenant_a.status == before
    # Rate-limited per address: the eleventh attempt within the hour is 429, even the right token.
    settings.KASSA_CERTIFICATE_CLAIM_RATE = "10/hour"
    for _ in range(10):
        assert claim("kpc_" + "y" * 43, address="10.7.7.7").status_code == 404
    limited = claim(token, address="10.7.7.7")
    assert limited.status_code == 429 and "Retry-After" in limited
    assert claim(token, address="10.7.7.8").status_code == 409  # another address is not limited


def test_the_app_role_issues_a_claim_only_for_the_current_live_tenant(tenant_a, tenant_b):
    digest = "a" * 64
    with connection.cursor() as cursor, tenant_context(None), pytest.raises(Exception, match="current"):
        cursor.execute("SELECT kassa_certificate_claim_issue(%s, now())", [digest])
    with tenant_context(tenant_a), connection.cursor() as cursor, pytest.raises(Exception, match="SHA-256"):
        cursor.execute("SELECT kassa_certificate_claim_issue(%s, now())", ["not-a-digest"])
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SELECT kassa_certificate_claim_issue(%s, now())", [digest])
        assert cursor.fetchone()[0] is True
        cursor.execute("SELECT kassa_certificate_claim_issue(%s, now())", ["b" * 64])
        assert cursor.fetchone()[0] is False  # one per tenant
    with tenant_context(tenant_b), connection.cursor() as cursor:
        cursor.execute("SELECT kassa_certificate_claim_issued_at()")
        assert cursor.fetchone()[0] is None  # another tenant's claim is not seen
        with pytest.raises(Exception, match="permission denied"):
            cursor.execute("DELETE FROM lifecycle_certificateclaim")
    with as_maintenance():
        Tenant.objects.filter(pk=tenant_b.pk).update(status=Tenant.Status.PURGED)
    with (
        tenant_context(tenant_b),
        connection.cursor() as cursor,
        pytest.raises(Exception, match="not active"),
    ):
        cursor.execute("SELECT kassa_certificate_claim_issue(%s, now())", ["c" * 64])
