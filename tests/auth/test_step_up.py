"""Step-up: a change that adds or removes a way into the account needs the owner to have proved who
they are in the last 5 minutes (password, a code to a primary contact, or a linked provider)."""
from __future__ import annotations

import time

import pytest

from portal.auth import stepup
from portal.extensions import db
from portal.users.models import Email, User
from portal_devkit.testing.plugin import DEFAULT_PASSWORD

EN = {"Accept-Language": "en"}


@pytest.fixture
def alice(english, app, users):
    """Alice, signed in, her step-up gone stale (as 5 minutes after signing in)."""
    client, user_id = users.signed_in_client("alice")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.user_id = user_id
    make_stale(client)
    return client


def make_stale(client):
    with client.session_transaction() as session:
        session[stepup.SESSION_KEY] = time.time() - stepup.FRESH_SECONDS - 1


def emails_of(app, user_id):
    with app.app_context():
        return sorted(e.address for e in db.session.get(User, user_id).emails)


def email_id(app, address):
    with app.app_context():
        return db.session.scalar(db.select(Email.id).where(Email.address_key == address))


def test_signing_in_with_the_password_makes_the_session_fresh(english, app, users):
    client, user_id = users.signed_in_client("carol")
    response = client.submit("/user/emails", {"address": "carol.work@example.com"})
    assert response.status_code == 302 and response.headers["Location"] == "/user/emails"
    assert "carol.work@example.com" in emails_of(app, user_id)


def test_a_stale_post_goes_to_the_step_up_page_and_changes_nothing(app, alice):
    response = alice.submit("/user/emails", {"address": "mallory@example.com"},
                            headers={"Referer": "http://localhost/user/emails"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/step-up?next=/user/emails"
    assert emails_of(app, alice.user_id) == ["alice@example.com"]
    page = alice.get(response.headers["Location"]).get_data(as_text=True)
    assert "confirm it is you first, then submit the form again" in page
    assert 'name="password"' in page


def test_a_stale_get_returns_to_the_same_page_after_the_password(app, alice):
    target = f"/user/emails/{email_id(app, 'alice@example.com')}/primary"
    response = alice.get(target)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/step-up?next=")
    confirmed = alice.submit("/auth/step-up", {"password": DEFAULT_PASSWORD, "next": target, "action": "password"},
                             page=response.headers["Location"])
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == target
    assert alice.get(target).status_code == 200


def test_a_wrong_password_is_refused_and_the_session_stays_stale(app, alice):
    refused = alice.submit("/auth/step-up", {"password": "not my password", "action": "password"})
    assert refused.status_code == 400
    assert "The password is wrong." in refused.get_data(as_text=True)
    assert alice.submit("/user/emails", {"address": "x@example.com"}).status_code == 302
    assert emails_of(app, alice.user_id) == ["alice@example.com"]


def test_wrong_passwords_are_limited_per_user(app, alice):
    for _ in range(5):
        alice.submit("/auth/step-up", {"password": "guess", "action": "password"})
    refused = alice.submit("/auth/step-up", {"password": DEFAULT_PASSWORD, "action": "password"})
    assert refused.status_code == 400
    assert "Too many wrong passwords" in refused.get_data(as_text=True)


def test_after_the_step_up_the_change_goes_through_for_five_minutes(app, alice):
    alice.submit("/auth/step-up", {"password": DEFAULT_PASSWORD, "action": "password"})
    assert alice.submit("/user/emails", {"address": "alice.work@example.com"}).status_code == 302
    assert "alice.work@example.com" in emails_of(app, alice.user_id)
    make_stale(alice)
    assert alice.submit("/user/emails", {"address": "alice.home@example.com"}).headers["Location"] \
        .startswith("/auth/step-up")
    assert "alice.home@example.com" not in emails_of(app, alice.user_id)


def test_the_step_up_never_returns_to_another_site(alice):
    confirmed = alice.submit("/auth/step-up?next=https://evil.example/x",
                             {"password": DEFAULT_PASSWORD, "next": "https://evil.example/x", "action": "password"})
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/user/profile"


def test_a_background_send_gets_json_naming_the_step_up_page(app, alice):
    response = alice.submit("/user/phone", {"phone": "13800139999", "action": "send"},
                            headers={"Accept": "application/json", "Referer": "http://localhost/user/phone"})
    assert response.status_code == 401
    assert response.json["ok"] is False
    assert response.json["step_up"] == "/auth/step-up?next=/user/phone"


def _passwordless(app, user_id):
    with app.app_context():
        db.session.get(User, user_id).password_hash = None
        db.session.commit()


def test_a_user_without_a_password_steps_up_with_a_code_to_the_primary_email(app, alice, mailbox):
    _passwordless(app, alice.user_id)
    page = alice.get("/auth/step-up?next=/user/emails").get_data(as_text=True)
    assert 'name="password"' not in page and "al***@example.com" in page
    sent = alice.submit("/auth/step-up", {"channel": "email", "action": "send"}, page="/auth/step-up")
    assert sent.status_code == 200
    code = mailbox.last_code("alice@example.com")
    confirmed = alice.submit("/auth/step-up", {"channel": "email", "code": code, "next": "/user/emails",
                                               "action": "code"})
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/user/emails"
    assert alice.submit("/user/emails", {"address": "alice.work@example.com"}).status_code == 302
    assert "alice.work@example.com" in emails_of(app, alice.user_id)


def test_a_code_sent_for_something_else_does_not_step_up(app, alice, mailbox):
    _passwordless(app, alice.user_id)
    with app.test_request_context():
        from portal.verification.services import send_code

        send_code("verify_email", "alice@example.com", user_id=alice.user_id)
    refused = alice.submit("/auth/step-up", {"channel": "email", "code": mailbox.last_code("alice@example.com"),
                                             "action": "code"})
    assert refused.status_code == 400
    assert alice.submit("/user/emails", {"address": "z@example.com"}).headers["Location"].startswith("/auth/step-up")


# Every change that adds or removes a way to sign in or to recover the account.
PROTECTED = [
    ("/user/emails", {"address": "new@example.com"}),
    ("/user/emails/{email}/code", {}),
    ("/user/emails/{email}/verify", {"code": "123456"}),
    ("/user/emails/{email}/primary", {"code": "123456"}),
    ("/user/emails/{email}/remove", {}),
    ("/user/phone", {"phone": "13800138000", "action": "send"}),
    ("/user/phone/unbind", {"action": "send"}),
    ("/user/password", {"old_password": DEFAULT_PASSWORD, "new_password": "a brand new passphrase",
                        "channel": "email", "action": "send"}),
    ("/identities/github/link", {}),
    ("/identities/github/unlink", {}),
]


@pytest.mark.parametrize("url, data", PROTECTED)
def test_every_change_of_a_way_in_needs_a_fresh_step_up(app, alice, mailbox, url, data):
    url = url.format(email=email_id(app, "alice@example.com"))
    sent_before = len(mailbox.messages)
    response = alice.submit(url, data, page="/user/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/step-up")
    assert len(mailbox.messages) == sent_before


def test_a_provider_only_user_without_a_contact_steps_up_by_signing_in_again(english, app, provider_browser):
    browser = provider_browser()
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert browser.sign_in("github", "alice").status_code == 302
    make_stale(browser.client)
    stale = browser.client.submit("/user/emails", {"address": "gh@example.com"}, page="/user/emails")
    assert stale.headers["Location"].startswith("/auth/step-up")
    page = browser.client.get("/auth/step-up?next=/user/emails").get_data(as_text=True)
    assert 'action="/identities/github/reauthenticate"' in page

    back = browser.run("github", "reauthenticate", "alice")
    assert back.status_code == 302
    added = browser.client.submit("/user/emails", {"address": "gh@example.com"}, page="/user/emails")
    assert added.headers["Location"] == "/user/emails"


def test_signing_in_again_with_someone_elses_provider_account_is_no_proof(english, app, users, provider_browser):
    browser = provider_browser()
    assert browser.sign_in("github", "alice").status_code == 302
    other = provider_browser(users.signed_in_client("dave")[0])
    assert other.link("github", "bob").status_code == 302
    make_stale(browser.client)
    refused = browser.run("github", "reauthenticate", "bob")
    assert refused.status_code == 403
    assert not stepup_fresh(browser.client)


def stepup_fresh(client) -> bool:
    with client.session_transaction() as session:
        at = session.get(stepup.SESSION_KEY)
    return at is not None and time.time() - at < stepup.FRESH_SECONDS
