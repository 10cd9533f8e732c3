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


ROLES = ["owner", "store_manager", "cashier", "integrator", "auditor"]


@pytest.mark.parametrize("role", ROLES)
def test_the_permission_matrix_of_the_chains_end(
    cast_a, tenant_a, sent, role, django_capture_on_commit_callbacks
):
    """GET needs manage_settings, POST the owner role with a second factor; the page is owners'."""
    from tests.conftest import signed_in

    page = signed_in(cast_a[role]).get("/admin/lifecycle/termination/", secure=True)  # before MFA
    api = HttpsApiClient(mfa_token_for(cast_a[role]), host=f"{tenant_a.slug}.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        read = api.get(URL)
        asked = api.post(URL, {"confirm": tenant_a.slug})
    if role == "owner":
        assert (read.status_code, asked.status_code, page.status_code) == (200, 202, 200)
        assert len(sent) == 1
    else:
        assert read.status_code == 403 and read.json()["code"] == "permission_denied"
        assert asked.status_code == 403 and asked.json()["code"] == "permission_denied"
        assert page.status_code in (403, 302)  # 302: a role with no admin permission at all
        assert sent == []


def test_another_chains_token_on_this_chains_host_is_refused(cast_a, cast_b, tenant_a, sent):
    bob = HttpsApiClient(mfa_token_for(cast_b["owner"]), host=f"{tenant_a.slug}.localhost")
    read = bob.get(URL)
    asked = bob.post(URL, {"confirm": tenant_a.slug})
    assert read.status_code == 401 and asked.status_code == 401  # a token works on its chain's host only
    assert "grace_days" not in read.content.decode()
    assert sent == [] and Tenant.objects.get(pk=tenant_a.pk).status == Tenant.Status.ACTIVE


def test_a_support_user_cannot_end_the_chain_even_with_a_grant_that_names_manage_settings(
    cast_a, tenant_a, sent, django_capture_on_commit_callbacks
):
    """Platform staff in the chain under a grant made before the limit (it names manage_settings):
    the chain's end is refused on the API and the page, and nothing changes."""
    from django.utils import timezone

    from accounts.models import SupportGrant
    from tenants.context import tenant_context
    from tests.accounts.test_support_access import staff_make, support_sign_in

    staff_make("sally")
    with tenant_context(tenant_a):
        SupportGrant.objects.create(
            staff_username="sally",
            reason="ticket 4711",
            permissions=["manage_settings", "view_products"],
            granted_by=cast_a["owner"],
            expires_at=timezone.now() + timedelta(hours=1),
        )
    signed = support_sign_in(username="sally")
    assert signed.status_code == 201
    staff = HttpsApiClient(signed.json()["token"], host=f"{tenant_a.slug}.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        read = staff.get(URL)
        asked = staff.post(URL, {"confirm": tenant_a.slug})
    assert read.status_code == 403 and read.json()["code"] == "permission_denied"
    assert asked.status_code == 403 and asked.json()["code"] == "permission_denied"
    assert "certificate_token" not in asked.content.decode()
    assert sent == [] and Tenant.objects.get(pk=tenant_a.pk).status == Tenant.Status.ACTIVE
    from lifecycle.models import CertificateClaim

    with as_maintenance():
        assert not CertificateClaim.objects.filter(subject_tenant=tenant_a.pk).exists()
