"""Sign-up by phone (SIGNUP_BY_PHONE): after the code of 验证码登录, a phone of nobody creates an
account with that verified phone, which then works everywhere without an email."""
from __future__ import annotations

import pytest
from flask import url_for

from portal.extensions import db
from portal.passwords import verify_password
from portal.users.models import User

PHONE = "+8613700137000"
PASSWORD = "a long phone passphrase"


@pytest.fixture
def app(app):
    # A phone rests a minute after each code; these journeys ask again sooner.
    app.config["VERIFICATION_SEND_LIMITS"] = "10/minute"
    return app


def verify_phone(client, mailbox, phone=PHONE):
    """Ask for a code on the sign-up page and enter it; the answer to the code."""
    sent = client.submit("/auth/sign-up/phone", {"phone": phone, "action": "send"})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    return client.submit("/auth/sign-up/phone", {"phone": phone, "code": mailbox.last_code(phone),
                                                  "action": "sign_in"})


def finish(client, username="pat", password="", confirm=None):
    return client.submit("/auth/sign-up/phone", {"username": username, "password": password,
                                                  "confirm": password if confirm is None else confirm})


def user_named(app, username):
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        if user is not None:
            user.emails  # noqa: B018 - loaded while the session is open
        return user


def has_password(app, username, password) -> bool:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        return verify_password(user.password_hash, password)


def sign_out(client):
    client.post("/auth/sign-out", data={"csrf_token": client.csrf_token("/user/profile")})


def test_the_sign_up_page_offers_phone_as_well(client):
    html = client.get("/auth/sign-up").get_data(as_text=True)
    assert "邮箱注册" in html and 'href="/auth/sign-up/phone"' in html and "手机号注册" in html
    page = client.get("/auth/sign-up/phone").get_data(as_text=True)
    assert 'name="phone"' in page and 'name="username"' not in page


def test_phone_sign_up_creates_a_phone_only_user(app, client, mailbox):
    response = verify_phone(client, mailbox)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/sign-up/phone"
    page = client.get("/auth/sign-up/phone").get_data(as_text=True)
    assert "137****7000" in page and 'name="username"' in page
    done = finish(client, "pat")
    assert done.status_code == 302 and done.headers["Location"] == "/user/profile"
    user = user_named(app, "pat")
    assert user.phone == PHONE and user.phone_verified_at is not None
    assert user.emails == [] and user.password_hash is None
    profile = client.get("/user/profile")
    assert profile.status_code == 200 and "137****7000" in profile.get_data(as_text=True)


def test_the_phone_only_user_can_use_the_user_center(app, client, mailbox):
    verify_phone(client, mailbox)
    finish(client, "pat")
    from portal import user_center

    with app.test_request_context():
        urls = [url_for(tab.endpoint) for tab in user_center.tabs(app)]
    urls += ["/user/security-review", "/auth/step-up"]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 302), (url, response.status_code)
        if response.status_code == 302:
            assert "/auth/sign-in" not in response.headers["Location"], url


def test_the_phone_only_user_signs_in_again_by_code(app, client, mailbox):
    verify_phone(client, mailbox)
    finish(client, "pat")
    sign_out(client)
    client.submit("/auth/sign-in/sms", {"phone": PHONE, "action": "send"})
    response = client.submit("/auth/sign-in/sms", {"phone": PHONE, "code": mailbox.last_code(PHONE),
                                                   "action": "sign_in"})
    assert response.status_code == 302 and response.headers["Location"] == "/user/profile"
    assert client.get("/user/profile").status_code == 200


def test_with_a_password_the_user_signs_in_with_it_too(app, client, users, mailbox):
    verify_phone(client, mailbox)
    mismatch = finish(client, "pat", PASSWORD, confirm="something else")
    assert mismatch.status_code == 400
    assert finish(client, "pat", PASSWORD).status_code == 302
    assert has_password(app, "pat", PASSWORD)
    sign_out(client)
    users.sign_in(client, "pat", PASSWORD)
    sign_out(client)
    users.sign_in(client, "13700137000", PASSWORD)


def test_the_phone_only_user_resets_the_password_by_phone(app, client, mailbox):
    verify_phone(client, mailbox)
    finish(client, "pat", PASSWORD)
    sign_out(client)
    client.submit("/auth/forgot-password", {"contact": "13700137000"})
    reset = client.submit("/auth/reset-password", {"code": mailbox.last_code(PHONE), "password": "another passphrase here",
                                                   "confirm": "another passphrase here"})
    assert reset.status_code == 302
    assert has_password(app, "pat", "another passphrase here")
    # The notice of the reset went by SMS, the only contact.
    assert any("重置" in m["body"] or "reset" in m["body"] for m in mailbox.notices(PHONE))


def test_notices_reach_the_phone_only_user_by_sms(app, client, mailbox):
    verify_phone(client, mailbox)
    finish(client, "pat")
    from portal.notices import send_notice
    from portal.i18n import lazy_gettext as _l

    before = len(mailbox.notices(PHONE))
    with app.test_request_context():
        user = db.session.scalar(db.select(User).where(User.username == "pat"))
        assert send_notice(user, _l("Your primary email address was changed to %(address)s.", address="x")) == 1
    assert len(mailbox.notices(PHONE)) == before + 1


def test_the_phone_only_user_adds_an_email_later(app, client, mailbox):
    verify_phone(client, mailbox)
    finish(client, "pat")
    added = client.submit("/user/emails", {"address": "phone.only@example.com"})
    assert added.status_code == 302
    user = user_named(app, "pat")
    assert [e.address for e in user.emails] == ["phone.only@example.com"] and user.emails[0].is_primary
    verified = client.submit(f"/user/emails/{user.emails[0].id}/verify", {"code": mailbox.last_code("phone.only@example.com")},
                             page="/user/emails")
    assert verified.status_code == 302
    assert user_named(app, "pat").primary_email.is_verified
    # Binding a first email is a change its owner hears of, on the phone.
    assert mailbox.notices(PHONE)


def test_a_taken_username_is_refused_and_the_phone_stays_verified(app, client, users, mailbox):
    users.create("pat")
    verify_phone(client, mailbox)
    refused = finish(client, "PAT")
    assert refused.status_code == 400 and "该用户名已被使用" in refused.get_data(as_text=True)
    assert finish(client, "pat2").status_code == 302


def test_a_phone_of_an_account_signs_in_instead(app, client, users, mailbox):
    alice = users.create("alice")
    with app.app_context():
        user = db.session.get(User, alice)
        user.phone, user.phone_verified_at = PHONE, user.created_at
        db.session.commit()
    response = verify_phone(client, mailbox)
    assert response.status_code == 302 and response.headers["Location"] == "/user/profile"
    assert user_named(app, "alice").phone == PHONE


def test_the_username_step_needs_the_code_first(client):
    response = client.post("/auth/sign-up/phone", data={"username": "pat", "csrf_token": client.csrf_token()})
    assert response.status_code == 400
    assert 'name="username"' not in response.get_data(as_text=True)


@pytest.fixture
def phone_sign_up_off(app):
    app.config["SIGNUP_BY_PHONE"] = False
    return app


def test_switched_off_sign_up_by_phone_is_refused_clearly(phone_sign_up_off, client, mailbox):
    page = client.get("/auth/sign-up/phone")
    html = page.get_data(as_text=True)
    assert page.status_code == 403 and "本站未开放手机号注册" in html
    assert 'href="/auth/sign-up/phone"' not in client.get("/auth/sign-up").get_data(as_text=True)
    before = len(mailbox.to(PHONE))
    client.submit("/auth/sign-in/sms", {"phone": PHONE, "action": "send"})
    assert len(mailbox.to(PHONE)) == before
    assert "未注册的手机号" not in client.get("/auth/sign-in/sms").get_data(as_text=True)


def test_english_pages(client, mailbox):
    html = client.get("/auth/sign-up/phone", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Sign up by phone" in html and "Send code" in html


def test_the_phone_only_user_sets_a_password_later_with_a_code_to_the_phone(app, client, users, mailbox):
    verify_phone(client, mailbox)
    finish(client, "pat")
    page = client.get("/user/password")
    assert page.status_code == 200 and 'value="phone"' in page.get_data(as_text=True)
    data = {"new_password": PASSWORD, "channel": "phone"}
    sent = client.submit("/user/password", {**data, "action": "send"})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    done = client.submit("/user/password", {**data, "code": mailbox.last_code(PHONE), "action": "confirm"})
    assert done.status_code == 302, done.get_data(as_text=True)
    assert has_password(app, "pat", PASSWORD)
    sign_out(client)
    users.sign_in(client, "pat", PASSWORD)


def test_the_phone_only_user_is_invited_and_runs_an_organization(app, client, users, mailbox):
    from portal.orgs import invitations
    from portal.orgs import services as orgs

    verify_phone(client, mailbox)
    finish(client, "pat")
    with app.test_request_context():
        olivia = db.session.get(User, users.create("olivia"))
        org = orgs.create_organization(olivia, "acme", "Acme Inc.")
        # No email to tell them by: the navbar counts the invitation instead.
        invitations.invite(org, olivia, "pat")
    page = client.get("/orgs/invitations")
    assert page.status_code == 200 and "Acme Inc." in page.get_data(as_text=True)
    created = client.submit("/orgs/new", {"slug": "pats-shop", "name": "Pat's shop"})
    assert created.status_code == 302, created.get_data(as_text=True)
    for url in ("/orgs/pats-shop", "/orgs/pats-shop/members"):
        assert client.get(url).status_code == 200, url


def test_the_verified_phone_waits_only_a_few_minutes_for_the_username(app, client, mailbox):
    verify_phone(client, mailbox)
    with client.session_transaction() as session:
        session["phone_sign_up"] = {**session["phone_sign_up"], "expires": 0}
    page = client.get("/auth/sign-up/phone").get_data(as_text=True)
    assert 'name="phone"' in page and 'name="username"' not in page
    assert finish(client, "pat").status_code == 400
    assert user_named(app, "pat") is None
