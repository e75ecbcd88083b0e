"""In Chromium, with its virtual authenticator (DevTools protocol): register a passkey in the user
center, sign out, and sign in with the passkey alone."""
import pytest

from tests.browser.conftest import Person

PASSWORD = "correct horse battery staple"


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PASSKEY_SIGN_IN_ENABLED": True}


def virtual_authenticator(person):
    cdp = person.context.new_cdp_session(person.page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp


def test_register_a_passkey_and_sign_in_with_it(chromium, live_portal, users):
    users.create("keyholder", password=PASSWORD)
    # WebAuthn takes a domain as the relying party, never an IP address.
    me = Person(chromium, live_portal.replace("127.0.0.1", "localhost"))
    try:
        virtual_authenticator(me)
        me.sign_in("keyholder", PASSWORD)
        page = me.page
        page.goto("/user/two-factor")
        page.fill("#passkeys input[name=label]", "我的笔记本")
        page.click("#passkey-add")
        page.locator("#passkey-list", has_text="我的笔记本").wait_for()
        me.snapshot("passkey-added")

        page.click("#user-menu")
        page.click("form[action$='/auth/sign-out'] button")
        page.wait_for_url("**/auth/sign-in")
        page.click("#passkey-sign_in")
        page.wait_for_url("**/user/profile")
        assert "keyholder" in page.locator("main").inner_text()
        page.goto("/user/security-log")
        log = page.locator("#security-log").inner_text()
        assert "添加通行密钥" in log and "method: passkey" in log
        assert not me.errors, me.errors
    finally:
        me.close()
