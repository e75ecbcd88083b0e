"""Signing out, and the per-user session version that ends every session of a user at once."""
from __future__ import annotations

from portal.extensions import db
from portal_devkit.testing.plugin import DEFAULT_PASSWORD
from portal.users import services
from portal.users.models import User

# A page every visitor, signed in or not, can open; base.html puts the sign-out form on it.
ANY_PAGE = "/auth/forgot-password"
SESSION_COOKIE = "portal_session"


def is_signed_in(client) -> bool:
    return client.get("/auth/sign-in").status_code == 302


def copy_cookie(source, target, name):
    cookie = source.get_cookie(name)
    assert cookie is not None, name
    target.set_cookie(name, cookie.value)


def sign_out(client):
    return client.submit("/auth/sign-out", page=ANY_PAGE)


def test_sign_out_ends_the_session(client, users):
    users.create("alice")
    users.sign_in(client, "alice")
    response = sign_out(client)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/sign-in"
    assert not is_signed_in(client)


def test_sign_out_also_kills_a_copied_cookie(app, client, users):
    users.create("alice")
    users.sign_in(client, "alice")
    thief = app.test_client()
    copy_cookie(client, thief, SESSION_COOKIE)
    assert is_signed_in(thief)
    sign_out(client)
    assert not is_signed_in(thief)


def test_sign_out_ends_the_users_other_sessions_and_remember_cookies(app, client, users):
    users.create("alice")
    users.sign_in(client, "alice")
    laptop = app.test_client()
    laptop.submit("/auth/sign-in", {"login": "alice", "password": DEFAULT_PASSWORD, "remember": "y"})
    remembered = app.test_client()
    copy_cookie(laptop, remembered, "portal_remember")
    assert is_signed_in(remembered)
    sign_out(client)
    assert not is_signed_in(laptop)
    fresh = app.test_client()
    copy_cookie(laptop, fresh, "portal_remember")
    assert not is_signed_in(fresh)


def test_sign_out_needs_post_and_csrf(client, users):
    users.create("alice")
    users.sign_in(client, "alice")
    assert client.get("/auth/sign-out").status_code == 405
    assert client.post("/auth/sign-out").status_code == 400
    assert is_signed_in(client)


def test_sign_out_keeps_the_chosen_language(client, users):
    users.create("alice")
    users.sign_in(client, "alice")
    client.submit("/auth/locale", {"locale": "en", "next": "/auth/sign-in"}, page=ANY_PAGE)
    sign_out(client)
    assert "Sign in" in client.get("/auth/sign-in").get_data(as_text=True)


def test_changing_the_password_signs_out_everywhere(app, client, users):
    user_id = users.create("alice")
    users.sign_in(client, "alice")
    with app.app_context():
        services.set_password(db.session.get(User, user_id), "another long passphrase")
    assert not is_signed_in(client)
    users.sign_in(client, "alice", "another long passphrase")
    assert is_signed_in(client)


def test_a_disabled_user_is_signed_out(app, client, users):
    user_id = users.create("alice")
    users.sign_in(client, "alice")
    with app.app_context():
        db.session.get(User, user_id).is_active = False
        db.session.commit()
    assert not is_signed_in(client)


def test_a_forged_session_id_is_no_one(client, users):
    users.create("alice")
    for forged in ("1", "1:", "x:1", "1:999", ":"):
        with client.session_transaction() as session:
            session["_user_id"] = forged
        assert not is_signed_in(client)


def test_a_session_cookie_expires_twelve_hours_after_sign_in(client, users, monkeypatch):
    from itsdangerous.timed import TimestampSigner

    users.create("alice")
    users.sign_in(client, "alice")
    issued = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued(self) + 12 * 3600 + 60)
    assert not is_signed_in(client)
