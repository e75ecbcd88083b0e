"""Browser journeys: the portal served over real HTTP on 127.0.0.1, driven by headless Chromium
(Debian's /usr/bin/chromium through Playwright), with the provider sandbox beside it. These catch what
the test client cannot: the CSP, JavaScript, redirects across origins."""
from __future__ import annotations

import os
import re
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]



@pytest.fixture(scope="session")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium fonts-wqy-microhei")
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def live_portal(app):
    """The app fixture served on a free loopback port; returns its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    # The portal's address is known once the port is: what the factory derives from PUBLIC_URL.
    app.config["PUBLIC_URL"] = url
    app.config["TRUSTED_HOSTS"] = [*app.config["TRUSTED_HOSTS"], "127.0.0.1"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


class Person:
    """One person at one browser: a fresh context (cookies), console errors collected."""

    def __init__(self, chromium, base_url):
        self.context = chromium.new_context(locale="zh-CN", base_url=base_url)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    # A form that refuses its input answers 400/409/429 with the page and its message: the browser
    # logs the status, which is no error of the page's.
    REFUSED_FORM = re.compile(r"Failed to load resource: the server responded with a status of (400|409|429)")

    def _console(self, message):
        if message.type == "error" and not self.REFUSED_FORM.match(message.text):
            self.errors.append(message.text)

    def sign_up(self, username, email, password):
        page = self.page
        page.goto("/auth/sign-up")
        page.fill("input[name=username]", username)
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.fill("input[name=confirm]", password)
        self.submit("main form [type=submit]")

    def submit(self, selector: str) -> None:
        """Click what posts a form and wait for the page the browser navigates to: waiting for "a
        loaded page" right after the click finds the old page, still loaded, on a busy machine."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def sign_in(self, login, password):
        page = self.page
        page.goto("/auth/sign-in")
        page.fill("input[name=login]", login)
        page.fill("input[name=password]", password)
        page.click("main form [type=submit]")
        page.wait_for_url("**/user/**")

    def on_the_phone(self, link: str, *choices: str):
        """Open a sandbox page (what a QR code encodes) in a second tab, as a phone would, and press
        each choice in turn, waiting for the page each press posts to: Chromium can hang closing a
        tab whose navigation is still committing."""
        phone = self.context.new_page()
        phone.goto(link)
        for choice in choices:
            with phone.expect_navigation():
                phone.click(f"button[value={choice}]")
        return phone

    def snapshot(self, name):
        """Save a full-page screenshot when PORTAL_TEST_SCREENSHOTS names a folder (to look at)."""
        folder = os.environ.get("PORTAL_TEST_SCREENSHOTS")
        if folder:
            self.page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)

    def close(self):
        self.context.close()


@pytest.fixture
def person(chromium, live_portal):
    made = []

    def make():
        made.append(Person(chromium, live_portal))
        return made[-1]

    yield make
    for p in made:
        # A CSP violation or a script error is a bug even when the journey succeeded.
        assert not p.errors, p.errors
        p.close()
