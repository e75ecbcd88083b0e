"""Sessions survive a changed IP address, a broken remember-me cookie is ignored, sign-out deletes the
remember-me cookie in the browser, and signed-in pages are never cached."""
from __future__ import annotations

import pytest

from portal_devkit.testing.plugin import DEFAULT_PASSWORD

REMEMBER = "portal_remember"


def is_signed_in(client, **kwargs) -> bool:
    return client.get("/auth/sign-in", **kwargs).status_code == 302


@pytest.fixture
def alice(users):
    return users.create("alice")


def sign_in(client, remember=False, **kwargs):
    data = {"login": "alice", "password": DEFAULT_PASSWORD, **({"remember": "y"} if remember else {})}
    return client.submit("/auth/sign-in", data, **kwargs)


def test_a_new_ip_address_keeps_the_session_and_remember_me(app, alice):
    client = app.test_client()
    sign_in(client, remember=True, environ_base={"REMOTE_ADDR": "10.1.1.1"})
    moved = {"environ_base": {"REMOTE_ADDR": "10.2.2.2"}}
    assert is_signed_in(client, **moved)
    assert client.get("/user/profile", **moved).status_code == 200
    assert client.get_cookie(REMEMBER) is not None


@pytest.mark.parametrize("value", ["garbage", "1:1|" + "0" * 128, "１:１|abc", "x" * 3000 + "|y", "\u00e9t\u00e9|\u00e9"])
def test_a_malformed_remember_cookie_is_ignored(app, client, alice, value):
    client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), value)
    for page in ("/auth/sign-in", "/auth/forgot-password", "/user/profile"):
        assert client.get(page).status_code in (200, 302)
    assert not is_signed_in(client)


def test_a_remember_cookie_naming_an_absurd_user_id_is_ignored(app, client, alice):
    from flask_login.utils import encode_cookie

    with app.test_request_context():
        forged = encode_cookie(f"{'9' * 30}:1")
    client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), forged)
    assert client.get("/auth/forgot-password").status_code == 200
    assert not is_signed_in(client)


def test_sign_out_deletes_the_remember_cookie_in_the_browser(app, client, alice):
    sign_in(client, remember=True)
    assert client.get_cookie(REMEMBER) is not None
    response = client.submit("/auth/sign-out", page="/auth/forgot-password")
    deleted = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{REMEMBER}=")]
    assert deleted and ("Max-Age=0" in deleted[0] or "Expires=Thu, 01 Jan 1970" in deleted[0])
    assert client.get_cookie(REMEMBER) is None


def test_signed_in_pages_are_not_cached(app, client, alice):
    assert "no-store" not in client.get("/auth/sign-in").headers.get("Cache-Control", "")
    sign_in(client)
    for page in ("/user/profile", "/user/emails", "/orgs/"):
        assert client.get(page).headers["Cache-Control"] == "no-store"
