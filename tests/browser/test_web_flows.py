"""The web experience in a real browser: sign in with a one-time code, sell by barcode, refund,
find the sale in the audit log, a lockout, MFA enrolment, the admin dashboard, Finnish."""

import re

from playwright.sync_api import expect

from accounts import mfa
from accounts.models import TotpDevice
from inventory.models import Refund, Sale
from tests.browser.conftest import DESKTOP, TABLET, totp_now
from tests.conftest import transactional
from tests.inventory.conftest import stock_of

pytestmark = transactional


def test_a_store_manager_signs_in_with_a_code_sells_refunds_and_finds_the_audit_entries(
    cast_a, stores_a, shop, tenant_a, as_tenant, browse, open_shift
):
    with as_tenant(tenant_a):
        device = mfa.totp_enrol(user=cast_a["store_manager"])
        device.confirmed = True
        device.save()
    browser = browse()
    page = browser.page

    browser.sign_in("sam", next_path="/pos/")
    assert page.url.startswith(browser.base + "/login/otp/")
    page.fill("#id_otp", totp_now(device))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(rf".*/pos/{stores_a[0].pk}/$"))  # one store: straight to its register

    scan = page.locator("#scan")
    scan.fill("4000000000017")  # a scanner types the code and Enter
    scan.press("Enter")
    page.locator("#cart-lines tr").first.wait_for()
    scan.press("+")  # the last line, one more
    scan.fill("tea-1")
    scan.press("Enter")
    expect(page.locator("#cart-lines tr")).to_have_count(2)
    scan.fill("3*4000000000031")
    scan.press("Enter")
    expect(page.locator("#cart-lines tr")).to_have_count(3)
    assert page.text_content("#total") == "21.59"  # 2 * 4.50 + 2.99 + 3 * 3.20
    # Tax per rate from the rate's gross: 21.59 x 14 / 114 = 2.6514 (per line it was 1.11 + 0.37 + 1.18)
    assert page.text_content("#tax") == "2.65"
    page.keyboard.press("F4")
    page.keyboard.type("50")
    assert page.text_content("#change") == "28.41"
    browser.shot("register-desktop")
    browser.shot("register-tablet", TABLET)
    page.set_viewport_size(DESKTOP)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/sales/[0-9a-f-]+/\?new=1$"))
    assert page.text_content("#receipt-total") == "21.59"
    assert page.text_content("#change-due") == "28.41"
    assert stock_of(tenant_a, stores_a[0], shop["coffee"]) == 18
    browser.shot("receipt-desktop")

    page.fill("#refund-reason", "customer changed their mind")
    page.click("#refund-submit")
    page.wait_for_selector("#refunded-total")
    assert page.text_content("#refunded-total") == "21.59"
    assert stock_of(tenant_a, stores_a[0], shop["coffee"]) == 20
    with as_tenant(tenant_a):
        sale = Sale.objects.get()
        assert sale.status == "refunded" and sale.cashier == cast_a["store_manager"]
        assert Refund.objects.get(sale=sale).actor == cast_a["store_manager"]

    page.click("#audit-link")
    page.wait_for_selector("#history")
    history = page.text_content("#history")
    assert "Insert" in history and "Update" in history
    assert f"POST /pos/{stores_a[0].pk}/sales/" in history and f"/sales/{sale.pk}/refund/" in history

    browser.go("/audit/")
    page.wait_for_selector("#timeline rect")
    requests = page.text_content("#requests")
    assert f"/pos/{stores_a[0].pk}/sales/" in requests
    signins = page.text_content("#signins")
    assert "sam" in signins


def test_a_locked_account_is_told_how_long_to_wait(cast_a, browse):
    browser = browse(viewport=TABLET)
    page = browser.page
    for _ in range(10):
        browser.sign_in("cody", password="not-the-password-1")
        assert "Wrong username or password." in page.text_content("#signin-error")
    browser.sign_in("cody")  # the right password, but locked
    assert "locked; try again in 30 minutes" in page.text_content("#signin-error")
    browser.shot("lockout-tablet")


def test_enrolling_an_authenticator_shows_a_qr_code_and_backup_codes(cast_a, tenant_a, as_tenant, browse):
    browser = browse()
    page = browser.page
    browser.sign_in("cody", next_path="/account/mfa/")
    page.click("#mfa-start")
    page.wait_for_selector("#qr")
    assert page.get_attribute("#qr", "src").startswith("data:image/svg+xml;base64,")
    assert page.locator("#qr").bounding_box()["width"] == 220
    browser.shot("mfa-desktop")
    browser.shot("mfa-tablet", TABLET)
    with as_tenant(tenant_a):
        device = TotpDevice.objects.get(user=cast_a["cashier"], confirmed=False)
    page.fill("#id_otp", totp_now(device))
    page.click("#mfa-confirm")
    page.wait_for_selector("#backup-codes")
    assert page.locator("#backup-codes li").count() == 10


def test_the_owner_reviews_the_chain_in_finnish_and_sees_the_dashboard(
    cast_a, stores_a, shop, tenant_a, as_tenant, browse
):
    from decimal import Decimal

    from inventory.services.sales import PaymentInput, SaleLineInput, sale_create

    with as_tenant(tenant_a):
        sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=shop["milk"], quantity=2)],
            payments=[PaymentInput(method="card", amount=Decimal("2.58"))],
            actor=cast_a["cashier"],
        )
    finnish = browse(locale="fi-FI")
    finnish.sign_in("alice", next_path="/audit/")
    page = finnish.page
    page.wait_for_selector("#timeline")
    assert page.get_attribute("html", "lang") == "fi"
    assert "Kirjautumiset päivittäin" in page.text_content("main")
    assert "mallory" in page.text_content("#top-users")
    assert int(page.text_content("#count-failed")) > 0

    browser = browse()
    browser.sign_in("alice", next_path="/audit/")
    browser.page.wait_for_selector("#timeline rect.bar-failed")
    browser.shot("audit-desktop")
    browser.shot("audit-tablet", TABLET)
    browser.page.set_viewport_size(DESKTOP)
    browser.go("/admin/")
    sales = browser.page.text_content("#sales-today")
    assert "Main street" in sales and "2.58" in sales
    assert "mallory" in browser.page.text_content("#failed-signins")
    browser.shot("admin-dashboard-desktop")
