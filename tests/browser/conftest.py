"""A live server on Alice's tenant host and Debian's chromium ($KASSA_CHROMIUM) driven by Playwright.

The server speaks plain HTTP (settings overridden for it alone: no HTTPS redirect, cookies
without the `__Host-` prefix or Secure flag); chromium maps `*.localhost` to 127.0.0.1. Each
page is watched: any console error (a Content-Security-Policy violation is one), uncaught
script error or request to anywhere but the server fails the test. Screenshots go to
test-artifacts/ (ignored by git).
"""

import os
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.test.testcases import LiveServerThread
from django.test.utils import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from auditlog import writer
from tests.conftest import PASSWORD
from tests.factories import ProductFactory
from tests.inventory.conftest import open_shift, stock_put  # noqa: F401 - a fixture

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOST = "alice-chain.localhost"
# The one tools/test-prerequisites checks for (and installs as root) before `make test` runs.
CHROMIUM = os.environ.get("KASSA_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]
LIVE_SETTINGS = {
    "SECURE_SSL_REDIRECT": False,
    "SESSION_COOKIE_NAME": "kassa-session",
    "CSRF_COOKIE_NAME": "kassa-csrf",
    "SESSION_COOKIE_SECURE": False,
    "CSRF_COOKIE_SECURE": False,
    "WHITENOISE_USE_FINDERS": True,
}


class _Handler(StaticFilesHandler):
    """Static files from the apps; each request thread closes its audit-log connection."""

    def __call__(self, environ, start_response):
        try:
            return super().__call__(environ, start_response)
        finally:
            writer.close()


@pytest.fixture(scope="module")
def live_url(django_db_setup):
    from django.conf import settings

    staticfiles = {
        **settings.STORAGES["staticfiles"],
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }
    with override_settings(**LIVE_SETTINGS, STORAGES={**settings.STORAGES, "staticfiles": staticfiles}):
        thread = LiveServerThread("127.0.0.1", _Handler, port=0)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        yield f"http://{HOST}:{thread.port}"
        thread.terminate()


@pytest.fixture(scope="module")
def chromium():
    """One browser for the module. Module scope, not session: Playwright's sync API keeps an
    event loop running in this thread, which Django's async-safety check sees, so it is allowed
    (DJANGO_ALLOW_ASYNC_UNSAFE) only while this module's tests run and never leaks to others
    (`check --deploy` in a subprocess refuses it)."""
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


class Watched:
    """A page and what it did wrong: console errors, script errors, requests leaving the server."""

    def __init__(self, page, base: str):
        self.page = page
        self.base = base
        self.problems: list[str] = []
        self.expected: list[str] = []
        allowed = urlsplit(base).netloc

        def console(message):
            if message.type == "error" and not any(text in message.text for text in self.expected):
                self.problems.append(f"console: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda error: self.problems.append(f"script: {error}"))

        def request(req):
            parts = urlsplit(req.url)
            if parts.scheme not in ("data", "blob") and parts.netloc != allowed:
                self.problems.append(f"outside request: {req.url}")

        page.on("request", request)
        # What the page asked and got, printed when its test fails (pytest shows a failed test's
        # captured output only).
        self.answers: list[str] = []
        page.on("response", lambda r: self.answers.append(f"{r.request.method} {r.url} {r.status}"))

    def expect_refusals(self, *statuses: int):
        """The test makes the server refuse on purpose (a 403, a 401): those answers are no problem."""
        self.expected += [f"status of {status}" for status in statuses]

    def go(self, path: str):
        response = self.page.goto(self.base + path)
        return response

    def shot(self, name: str, size: dict | None = None):
        ARTIFACTS.mkdir(exist_ok=True)
        if size is not None:
            self.page.set_viewport_size(size)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def sign_in(self, username: str, password: str = PASSWORD, next_path: str = ""):
        self.go(f"/login/?next={next_path}" if next_path else "/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("#signin-submit")
        self.page.wait_for_load_state()


# Assertions wait as long as actions do: on a loaded 2-core CI machine a page's request can take
# more than expect's default 5 s (a register scan once did, with 0 of 2 lines after 5 s).
expect.set_options(timeout=15_000)


@pytest.fixture
def browse(chromium, live_url):
    """`browse()`: a fresh browser context (no cookies) on the live server, watched."""
    contexts = []

    def open_page(viewport: dict = DESKTOP, locale: str = "en-GB") -> Watched:
        context = chromium.new_context(viewport=viewport, locale=locale, device_scale_factor=1)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Watched(context.new_page(), live_url)

    opened: list[Watched] = []

    def tracked(**kwargs) -> Watched:
        watched = open_page(**kwargs)
        opened.append(watched)
        return watched

    yield tracked
    for watched in opened:
        print("answers:", *watched.answers[-40:], sep="\n  ")
        try:
            print("open dialog:", watched.page.evaluate("document.querySelector('dialog[open]')?.id || ''"))
            print("message:", watched.page.evaluate("document.getElementById('message')?.textContent || ''"))
        except Exception as error:  # the page may be gone
            print("page state unavailable:", type(error).__name__)
    for context in contexts:
        context.close()
    problems = [problem for watched in opened for problem in watched.problems]
    assert not problems, problems


def totp_now(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(bytes.fromhex(device.secret), 30, 0, 6, 0)
    totp.time = time.time()
    return f"{totp.token():06d}"


@pytest.fixture
def shop(tenant_a, stores_a, as_tenant):
    """A small catalogue with stock in the first store, and a week of sign-ins for the chart."""
    from auditlog.models import SignInEvent

    def product(sku, name, price, barcode):
        return ProductFactory(tenant=tenant_a, sku=sku, name=name, price=Decimal(price), barcode=barcode)

    products = {
        "coffee": product("COF-1", "Dark roast coffee 500 g", "4.50", "4000000000017"),
        "tea": product("TEA-1", "Green tea, 20 bags", "2.99", "4000000000024"),
        "bread": product("BRD-1", "Rye bread", "3.20", "4000000000031"),
        "milk": product("MLK-1", "Milk 1 l", "1.29", "4000000000048"),
    }
    for product in products.values():
        stock_put(tenant_a, stores_a[0], product, 20)
    now = timezone.now()
    events = []
    for day in range(7):
        for hour in (8, 9, 12, 16):
            at = (now - timedelta(days=day)).replace(hour=hour, minute=5)
            if at > now:
                continue
            events += [("cody", "success", "", "192.0.2.10", at)] * (1 + (day + hour) % 3)
            if (day + hour) % 4 == 0:
                events.append(("mallory", "failure", "unknown_user", "198.51.100.23", at))
            if day == 2 and hour == 12:
                events += [("cody", "failure", "bad_password", "203.0.113.40", at)] * 3
    with as_tenant(tenant_a):
        SignInEvent.objects.bulk_create(
            SignInEvent(
                tenant_id=tenant_a.pk,
                username=username,
                outcome=outcome,
                reason=reason,
                channel="web",
                ip=ip,
                created_at=at,
            )
            for username, outcome, reason, ip, at in events
        )
    return products
