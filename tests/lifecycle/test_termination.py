"""Issue 15, item 6: the chain's owner ends the subscription in the product (second factor,
typed confirmation), sees the grace period and the purge date."""

from datetime import timedelta

import pytest

from auditlog.models import PlatformEvent
from lifecycle import tasks
from tenants.maintenance import as_maintenance
from tenants.models import Tenant
from tests.conftest import DATABASES, HttpsApiClient, mfa_token_for, token_for

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)
URL = "/api/v1/termination/"


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.tenant_terminate_task, "delay", lambda *args: calls.append(args))
    return calls


def test_an_owner_with_a_second_factor_ends_the_subscription_and_sees_the_grace_period(
    cast_a, tenant_a, tenant_b, cast_b, sent, django_capture_on_commit_callbacks
):
    owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    before = owner.get(URL)
    assert before.status_code == 200
    assert before.json()["status"] == "active" and before.json()["purge_due_at"] is None
    assert before.json()["grace_days"] == 30

    with django_capture_on_commit_callbacks(execute=True):
        asked = owner.post(URL, {"confirm": tenant_a.slug})
    assert asked.status_code == 202, asked.content
    assert asked.json()["status"] == "terminating" and "Export" in asked.json()["export_reminder"]
    assert sent == [(str(tenant_a.pk), str(cast_a["owner"].pk))]
    with as_maintenance():  # what the privileged worker runs
        assert tasks.tenant_terminate_task(*sent[0]) == "terminated"
        assert tasks.tenant_terminate_task(*sent[0]) == "terminated"  # twice: nothing more
        assert PlatformEvent.objects.filter(kind="tenant_terminated", subject_tenant=tenant_a.pk).count() == 1
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.TERMINATED
    after = owner.get(URL).json()
    assert after["status"] == "terminated"
    ends = tenant_a.subscription_ends_at
    assert after["purge_due_at"] == (ends + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert Tenant.objects.get(pk=tenant_b.pk).status == Tenant.Status.ACTIVE


def test_termination_is_refused_without_the_second_factor_the_confirmation_or_the_role(
    cast_a, tenant_a, cast_b, tenant_b, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        no_mfa = HttpsApiClient(token_for(cast_a["owner"])).post(URL, {"confirm": tenant_a.slug})
        owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
        missing = owner.post(URL, {})
        wrong = owner.post(URL, {"confirm": "alice-chain\u0000"})
        huge = owner.post(URL, {"confirm": "x" * 10_000})
        other = owner.post(URL, {"confirm": tenant_b.slug})  # another chain's name
        bob = HttpsApiClient(mfa_token_for(cast_b["owner"])).post(URL, {"confirm": tenant_a.slug})
        manager = HttpsApiClient(token_for(cast_a["store_manager"]))
        cashier = HttpsApiClient(token_for(cast_a["cashier"]))
    assert no_mfa.status_code == 403 and no_mfa.json()["code"] == "second_factor_required"
    for answer in (missing, wrong, huge, other, bob):
        assert answer.status_code == 400, answer.content
        assert set(answer.json()) >= {"code", "detail", "fields"} and "confirm" in answer.json()["fields"]
    for client in (manager, cashier):
        assert client.get(URL).status_code == 403
        assert client.post(URL, {"confirm": tenant_a.slug}).status_code == 403
    assert sent == []
    for tenant in (tenant_a, tenant_b):
        tenant.refresh_from_db()
        assert tenant.status == Tenant.Status.ACTIVE
