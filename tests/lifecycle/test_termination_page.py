"""Issue 15, item 6: the termination page in the admin (/admin/lifecycle/termination/), from the
attacker's side: owners only, a fresh one-time code, the chain's slug typed, the token once."""

import pytest

from auditlog.models import SignInEvent
from lifecycle import tasks
from lifecycle.models import CertificateClaim
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Tenant
from tests.conftest import DATABASES, signed_in, tenant_host, web_client
from tests.lifecycle.conftest import owner_browser

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)
PAGE = "/admin/lifecycle/termination/"


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.tenant_terminate_task, "delay", lambda *args: calls.append(args))
    return calls


def claims() -> int:
    with as_maintenance():
        return CertificateClaim.objects.count()


def status_of(tenant) -> str:
    tenant.refresh_from_db()
    return tenant.status


def test_an_owner_ends_the_subscription_with_the_slug_and_a_fresh_code(
    cast_a, tenant_a, sent, django_capture_on_commit_callbacks
):
    browser, codes = owner_browser(cast_a["owner"])
    index = browser.get("/admin/", secure=True)
    assert PAGE.encode() in index.content  # the dashboard links owners to it
    page = browser.get(PAGE, secure=True)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="termination-form"' in body and "30 days" in body and "/admin/exports/export/" in body
    assert "no-store" in page["Cache-Control"]

    with django_capture_on_commit_callbacks(execute=True):
        done = browser.post(PAGE, {"confirm": tenant_a.slug, "otp": codes[0]}, secure=True)
    assert done.status_code == 200
    shown = done.content.decode()
    token = done.context["certificate_token"]
    assert token.startswith("kpc_") and token in shown and "/api/v1/purge-certificate/" in shown
    assert "termination-form" not in shown and "Ending" in shown
    assert sent == [(str(tenant_a.pk), str(cast_a["owner"].pk))] and claims() == 1
    assert "no-store" in done["Cache-Control"]
    # The token is never shown again: not on the page, not on the dashboard.
    again = browser.get(PAGE, secure=True).content.decode()
    assert token not in again and 'id="claim-issued"' in again and "termination-form" not in again
    assert token not in browser.get("/admin/", secure=True).content.decode()
    # The worker terminates; a second confirmation (the form is gone; a forged POST) changes nothing.
    with as_maintenance():
        tasks.tenant_terminate_task(*sent[0])
    tenant_a.refresh_from_db()
    ends = tenant_a.subscription_ends_at
    with django_capture_on_commit_callbacks(execute=True):
        forged = browser.post(PAGE, {"confirm": tenant_a.slug, "otp": codes[1]}, secure=True)
    assert forged.status_code == 200 and forged.context["certificate_token"] is None
    assert "already-asked" in forged.content.decode()
    tenant_a.refresh_from_db()
    assert tenant_a.subscription_ends_at == ends and claims() == 1 and len(sent) == 1
    # The dashboard now says when everything is destroyed.
    assert "destroyed on" in browser.get("/admin/", secure=True).content.decode()


def test_a_wrong_slug_or_code_is_refused_with_the_input_kept_and_nothing_changed(
    cast_a, tenant_a, tenant_b, sent, django_capture_on_commit_callbacks
):
    browser, codes = owner_browser(cast_a["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        attempts = {
            "slug": {"confirm": "alice-chaln", "otp": codes[0]},
            "other chain": {"confirm": tenant_b.slug, "otp": codes[0]},
            "nul": {"confirm": "alice-chain\x00", "otp": codes[0]},
            "huge": {"confirm": "x" * 10_000, "otp": codes[0]},
            "umlaut": {"confirm": "älice-chain", "otp": codes[0]},
            "no code": {"confirm": tenant_a.slug, "otp": ""},
            "wrong code": {"confirm": tenant_a.slug, "otp": "123456"},
        }
        answers = {name: browser.post(PAGE, data, secure=True) for name, data in attempts.items()}
    for name, answer in answers.items():
        assert answer.status_code == 200, name
        form = answer.context["form"]
        assert form.errors and answer.context["certificate_token"] is None, name
        assert 'id="termination-form"' in answer.content.decode(), name
    assert "confirm" in answers["slug"].context["form"].errors
    assert 'value="alice-chaln"' in answers["slug"].content.decode()  # the input is kept
    assert codes[0] not in answers["slug"].content.decode()  # a code is never shown back
    assert "otp" in answers["wrong code"].context["form"].errors
    # A wrong code is a failed second factor, recorded and counted like a wrong password.
    with tenant_context(tenant_a):
        assert SignInEvent.objects.filter(reason="otp_wrong", username="alice").count() == 1
    assert sent == [] and claims() == 0
    assert status_of(tenant_a) == Tenant.Status.ACTIVE and status_of(tenant_b) == Tenant.Status.ACTIVE
    # The slug was checked first: the backup code was not spent by the typos, it still works.
    with django_capture_on_commit_callbacks(execute=True):
        ok = browser.post(PAGE, {"confirm": tenant_a.slug, "otp": codes[0]}, secure=True)
    assert ok.context["certificate_token"] and claims() == 1


def test_only_owners_see_and_use_the_page(cast_a, tenant_a, cast_b, sent, django_capture_on_commit_callbacks):
    for role in ("store_manager", "cashier", "auditor"):
        browser = signed_in(cast_a[role])
        assert browser.get(PAGE, secure=True).status_code == 403, role
        assert PAGE.encode() not in browser.get("/admin/", secure=True).content
        with django_capture_on_commit_callbacks(execute=True):
            posted = browser.post(PAGE, {"confirm": tenant_a.slug, "otp": "000000"}, secure=True)
        assert posted.status_code == 403, role
    manager = signed_in(cast_a["store_manager"])
    assert manager.get(PAGE, secure=True).status_code == 403
    # Another chain's owner on Alice's host is no admin user there; on his own host, his own chain.
    bob, codes = owner_browser(cast_b["owner"])
    bob_on_alice = web_client(tenant_host(cast_a["owner"]))
    bob_on_alice.cookies = bob.cookies
    assert bob_on_alice.get(PAGE, secure=True).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        own = bob.post(PAGE, {"confirm": tenant_a.slug, "otp": codes[0]}, secure=True)
    assert "confirm" in own.context["form"].errors  # Alice's name is not Bob's chain
    # The platform host: its admin is platform staff's (anyone else to the sign-in).
    assert web_client("127.0.0.1").get(PAGE, secure=True).status_code == 302
    assert sent == [] and claims() == 0 and status_of(tenant_a) == Tenant.Status.ACTIVE


def test_without_an_authenticator_the_owner_is_told_to_enrol_first(cast_a, tenant_a, sent):
    browser = signed_in(cast_a["owner"])  # an owner still in the enrolment grace period
    assert browser.get(PAGE, secure=True).status_code == 200
    refused = browser.post(PAGE, {"confirm": tenant_a.slug, "otp": "123456"}, secure=True)
    assert refused.status_code == 200 and refused.context["certificate_token"] is None
    assert "Enrol an authenticator first" in refused.context["form"].errors["otp"][0]
    assert sent == [] and claims() == 0
