"""Issue 15, item 6 in a real browser: the owner ends the chain's subscription on the admin's
termination page (the chain's slug and a fresh code) and is shown the claim token once."""

import re

from playwright.sync_api import expect

from lifecycle import tasks
from lifecycle.models import CertificateClaim
from tenants.maintenance import as_maintenance
from tests.conftest import mfa_enrol, transactional

pytestmark = transactional


def test_the_owner_ends_the_subscription_and_keeps_the_claim_token(cast_a, tenant_a, browse, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.tenant_terminate_task, "delay", lambda *args: sent.append(args))
    codes = mfa_enrol(cast_a["owner"])
    browser = browse()
    page = browser.page
    browser.sign_in("alice", next_path="/admin/")
    page.wait_for_url(re.compile(r".*/login/otp/.*"))
    page.fill("#id_otp", codes[0])
    page.click("#otp-submit")
    page.wait_for_selector("#dashboard")

    page.click("#termination-link")
    page.wait_for_selector("#termination-form")
    expect(page.locator("#termination-state")).to_have_text("Active")
    expect(page.locator("#grace-days")).to_have_text("30 days")
    assert page.get_attribute("#exports-link", "href") == "/admin/exports/export/"
    browser.shot("termination-desktop")

    page.fill("#id_confirm", "alice-chian")  # a typo: refused, the input kept
    page.fill("#id_otp", codes[1])
    page.click("#terminate")
    page.wait_for_selector(".errorlist")
    assert page.input_value("#id_confirm") == "alice-chian" and page.input_value("#id_otp") == ""
    assert sent == []

    page.fill("#id_confirm", tenant_a.slug)
    page.fill("#id_otp", codes[1])  # not spent by the typo
    page.click("#terminate")
    page.wait_for_selector("#certificate-token")
    token = page.text_content("#certificate-token")
    assert token.startswith("kpc_") and token in page.text_content("#claim-example")
    assert "/api/v1/purge-certificate/" in page.text_content("#claim-example")
    expect(page.locator("#purge-due")).to_be_visible()
    assert page.locator("#termination-form").count() == 0
    browser.shot("termination-token-desktop")
    assert sent == [(str(tenant_a.pk), str(cast_a["owner"].pk))]
    with as_maintenance():
        assert CertificateClaim.objects.filter(subject_tenant=tenant_a.pk).count() == 1

    browser.go("/admin/lifecycle/termination/")  # shown once: the page again is without it
    page.wait_for_selector("#claim-issued")
    assert token not in page.content()
