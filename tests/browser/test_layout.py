"""Every main page in zh-CN and in English at a desktop width (1366 px) and a phone's (390 px): a
screenshot of each goes to the artifacts folder (PORTAL_BROWSER_ARTIFACTS, else the test's tmp folder); on the phone no
page may scroll sideways and no button may break into a column of characters."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from portal_devkit.testing.plugin import DEFAULT_PASSWORD

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
ORG = ("layoutco", "Layout Co 布局测试组织")

SIGNED_OUT = ["/auth/sign-in", "/auth/sign-in/code", "/auth/sign-up", "/auth/forgot-password", "/no-such-page"]
PERSONAL = [
    "/user/profile", "/user/emails", "/user/phone", "/user/password", "/user/two-factor", "/user/devices",
    "/user/security-log", "/user/security-review", "/user/realname/", "/user/withdraw/",
    "/account/info", "/account/plan", "/billing/history", "/billing/recharge", "{order}", "{order}/close",
    "/identities/", "/user/api-keys/", "/user/api-keys/new", "/user/api-keys/{key}/revoke",
    "/orgs/", "/orgs/new", "/orgs/invitations",
]
ORGANIZATION = [
    f"/orgs/{ORG[0]}", f"/orgs/{ORG[0]}/members", f"/orgs/{ORG[0]}/security-log", f"/orgs/{ORG[0]}/leave",
    "/account/info", "/account/plan", "/billing/history",
]


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "REALNAME_BACKEND": "alipay_certify"}


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ.get("PORTAL_BROWSER_ARTIFACTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def world(app, users):
    """A user with a long name and email, an organization, an API key; the order comes later."""
    from portal.apikeys.services import create_key
    from portal.extensions import db
    from portal.orgs.services import create_organization
    from portal.users.models import User

    user_id = users.create("layout_tester_with_a_long_name", email="layout.tester.with.a.long.address@example.com")
    with app.app_context():
        user = db.session.get(User, user_id)
        create_organization(user, *ORG)
        key, _ = create_key(user, "持续集成部署机器人 deploy-bot", ["read", "usage"], 90)
        return {"key": key.id}


# Visible buttons whose label wraps onto three lines or more: squeezed into a column of characters.
SQUEEZED_BUTTONS = """
[...document.querySelectorAll('.btn, button, .nav-link')]
  .filter(b => b.offsetParent !== null && b.innerText.trim().length > 1)
  .filter(b => {
    const style = getComputedStyle(b);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
    const inner = b.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    return inner > line * 2.5;
  })
  .map(b => b.innerText.trim())
"""


def _name(path: str) -> str:
    return re.sub(r"[^0-9a-z]+", "-", path.lower()).strip("-") or "home"


@pytest.mark.parametrize("language", ["zh-CN", "en-US"])
def test_every_main_page_fits_a_phone_and_is_saved_at_both_widths(chromium, live_portal, world, artifacts,
                                                                   language):
    overflowing, squeezed, errors, shots = [], [], [], 0
    for width_name, (width, height) in WIDTHS.items():
        width_name = f"{language}-{width_name}"
        context = chromium.new_context(locale=language, base_url=live_portal,
                                       viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        # A CSP violation or a script error is a bug; the 404 page's own status is not.
        page.on("console", lambda message: errors.append(message.text) if message.type == "error"
                and not message.text.startswith("Failed to load resource") else None)
        seen = 0

        def visit(path, label):
            nonlocal seen, shots
            answer = page.goto(path)
            assert answer is not None and (answer.ok or path == "/no-such-page"), (path, answer and answer.status)
            seen += 1
            page.screenshot(path=str(artifacts / f"{width_name}-{seen:02d}-{label}.png"), full_page=True)
            shots += 1
            if width_name.endswith("phone"):
                wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                if wide[0] > wide[1]:
                    overflowing.append(f"{label} ({path}): {wide[0]} px wide in a {wide[1]} px window")
                squeezed.extend(f"{label} ({path}): {text!r}" for text in page.evaluate(SQUEEZED_BUTTONS))

        for path in SIGNED_OUT:
            visit(path, _name(path))
        page.goto("/auth/sign-in")
        page.fill("input[name=login]", "layout_tester_with_a_long_name")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("main form [type=submit]")
        page.wait_for_url("**/user/**")

        if "order" not in world:
            page.goto("/billing/recharge")
            page.fill("input[name=amount]", "12.34")
            page.check("input[name=channel][value=wechatpay]")
            page.click("main form [type=submit]")
            page.wait_for_url(re.compile(r".*/billing/orders/\d+$"))
            world["order"] = page.url.split(live_portal, 1)[1]
        for path in PERSONAL:
            path = path.format(**world)
            visit(path, "personal-" + _name(path))

        # The organization's account is current from here on (the navbar's switcher).
        with page.expect_navigation():
            page.evaluate("name => document.querySelector(`button[name=account_id][data-account='${name}']`).click()",
                          ORG[1])
        for path in ORGANIZATION:
            visit(path, "org-" + _name(path))
        context.close()

    print(f"{shots} screenshots in {artifacts}")
    assert not errors, errors
    assert not overflowing, "pages scroll sideways at 390 px:\n" + "\n".join(overflowing)
    assert not squeezed, "buttons broken into a column of characters at 390 px:\n" + "\n".join(squeezed)
