"""Passkeys: register several with labels, remove one, use one as the second factor or to step up, and
sign in with one alone where enabled; wrong origin, RP id, challenge or a counter that went backwards
are refused."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.mfa.models import Passkey
from portal.security_log.models import SecurityEvent
from tests.mfa.authenticator import SoftAuthenticator
from tests.mfa.conftest import is_signed_in, sign_in_password


def register(client, label="My laptop", key=None, **wrong):
    key = key or SoftAuthenticator()
    options = client.post("/user/passkeys/options", headers={"X-CSRFToken": client.csrf_token("/user/two-factor")})
    assert options.status_code == 200, options.get_data(as_text=True)
    response = client.submit("/user/passkeys", {"label": label, "credential": key.create(options.get_json(), **wrong)},
                             page="/user/two-factor")
    return key, response


def use(client, purpose, key, **wrong):
    page = {"sign_in": "/auth/sign-in", "second_factor": "/auth/two-factor"}.get(purpose, "/auth/step-up")
    token = client.csrf_token(page)
    options = client.post("/auth/passkey/options", data={"purpose": purpose}, headers={"X-CSRFToken": token})
    assert options.status_code == 200, options.status_code
    return client.post("/auth/passkey", data={"purpose": purpose, "csrf_token": token,
                                              "credential": key.get(options.get_json(), **wrong)})


def labels(app, user_id):
    with app.app_context():
        return db.session.scalars(db.select(Passkey.label).filter_by(user_id=user_id).order_by(Passkey.id)).all()


@pytest.fixture
def carol(users):
    client, user_id = users.signed_in_client("carol")
    client.user_id = user_id
    return client


def test_register_several_and_remove_one(app, carol, mailbox):
    register(carol, "My laptop")
    _, response = register(carol, "YubiKey")
    assert response.headers["Location"] == "/user/two-factor"
    assert labels(app, carol.user_id) == ["My laptop", "YubiKey"]
    page = carol.get("/user/two-factor").get_data(as_text=True)
    assert "My laptop" in page and "YubiKey" in page
    assert "A passkey (YubiKey) was added" in mailbox.notices("carol@example.com")[-1]["body"]
    with app.app_context():
        first = db.session.scalar(db.select(Passkey.id).filter_by(label="My laptop"))
    carol.submit(f"/user/passkeys/{first}/delete", page="/user/two-factor")
    assert labels(app, carol.user_id) == ["YubiKey"]
    assert "My laptop was removed" in mailbox.notices("carol@example.com")[-1]["body"]
    with app.app_context():
        kinds = db.session.scalars(db.select(SecurityEvent.kind).where(SecurityEvent.kind.like("passkey%"))).all()
    assert kinds == ["passkey_added", "passkey_added", "passkey_removed"]


def test_another_users_passkey_cannot_be_removed(app, carol, users):
    register(carol)
    other, _ = users.signed_in_client("dave")
    with app.app_context():
        passkey_id = db.session.scalar(db.select(Passkey.id))
    assert other.submit(f"/user/passkeys/{passkey_id}/delete", page="/user/two-factor").status_code == 404
    assert labels(app, carol.user_id) == ["My laptop"]


@pytest.mark.parametrize("wrong", [{"origin": "http://evil.example"}, {"rp_id": "evil.example"}])
def test_a_registration_for_another_site_is_refused(app, carol, wrong):
    _, response = register(carol, **wrong)
    assert response.headers["Location"] == "/user/two-factor"
    assert labels(app, carol.user_id) == []


def test_a_registration_finished_in_another_session_is_refused(app, carol, users):
    key = SoftAuthenticator()
    options = carol.post("/user/passkeys/options", headers={"X-CSRFToken": carol.csrf_token("/user/two-factor")})
    other = app.test_client()
    users.sign_in(other, "carol")
    other.submit("/user/passkeys", {"label": "stolen", "credential": key.create(options.get_json())},
                 page="/user/two-factor")
    assert labels(app, carol.user_id) == []


@pytest.fixture
def passkey_sign_in(portal_config):
    portal_config["PASSKEY_SIGN_IN_ENABLED"] = True
    return portal_config


def test_sign_in_with_a_passkey_alone(passkey_sign_in, app, carol):
    key, _ = register(carol)
    browser = app.test_client()
    assert 'id="passkey-sign_in"' in browser.get("/auth/sign-in").get_data(as_text=True)
    response = use(browser, "sign_in", key)
    assert response.status_code == 302 and response.headers["Location"] == "/user/profile"
    assert is_signed_in(browser)
    with app.app_context():
        event = db.session.scalars(db.select(SecurityEvent).filter_by(kind="sign_in")
                                   .order_by(SecurityEvent.id.desc())).first()
    assert event.details["method"] == "passkey"


def test_passkey_sign_in_is_off_unless_enabled(app, carol):
    browser = app.test_client()
    assert 'id="passkey-sign_in"' not in browser.get("/auth/sign-in").get_data(as_text=True)
    token = browser.csrf_token("/auth/sign-in")
    assert browser.post("/auth/passkey/options", data={"purpose": "sign_in"},
                        headers={"X-CSRFToken": token}).status_code == 404


@pytest.mark.parametrize("wrong", [{"origin": "http://evil.example"}, {"rp_id": "evil.example"},
                                   {"challenge": "c29tZXRoaW5nLWVsc2U"}])
def test_an_assertion_for_another_site_or_challenge_is_refused(passkey_sign_in, app, carol, wrong):
    key, _ = register(carol)
    browser = app.test_client()
    response = use(browser, "sign_in", key, **wrong)
    assert response.headers["Location"] == "/auth/sign-in"
    assert not is_signed_in(browser)


def test_a_counter_that_went_backwards_is_refused(passkey_sign_in, app, carol):
    key, _ = register(carol)
    assert use(app.test_client(), "sign_in", key, counter=5).headers["Location"] == "/user/profile"
    cloned = app.test_client()
    assert use(cloned, "sign_in", key, counter=3).headers["Location"] == "/auth/sign-in"
    assert not is_signed_in(cloned)


def test_a_passkey_is_a_second_factor_and_steps_up(app, users):
    from tests.mfa.conftest import enrol

    user_id = users.create("erin")
    enrol(app, user_id)
    client = app.test_client()
    sign_in_password(client, login="erin")
    # Register through a full sign-in first (with the app's code).
    from tests.mfa.conftest import Authenticator, secret_of

    client.submit("/auth/two-factor", {"code": Authenticator(secret_of(app, user_id)).code()})
    key, _ = register(client)
    assert labels(app, user_id) == ["My laptop"]
    browser = app.test_client()
    sign_in_password(browser, login="erin")
    assert 'id="passkey-second_factor"' in browser.get("/auth/two-factor").get_data(as_text=True)
    done = use(browser, "second_factor", key)
    assert done.status_code == 302 and done.headers["Location"] == "/user/profile"
    assert is_signed_in(browser)
    # Step-up offers it too.
    import time

    from portal.auth import stepup

    with browser.session_transaction() as session:
        session[stepup.SESSION_KEY] = time.time() - stepup.FRESH_SECONDS - 1
    assert 'id="passkey-step_up"' in browser.get("/auth/step-up").get_data(as_text=True)
    use(browser, "step_up", key)
    with browser.session_transaction() as session:
        assert 0 <= time.time() - session[stepup.SESSION_KEY] < stepup.FRESH_SECONDS


def test_a_passkey_of_someone_else_is_no_second_factor(app, users, carol):
    from tests.mfa.conftest import enrol

    key, _ = register(carol)
    enrol(app, users.create("frank"))
    browser = app.test_client()
    sign_in_password(browser, login="frank")
    response = use(browser, "second_factor", key)
    assert response.headers["Location"] == "/auth/two-factor"
    assert not is_signed_in(browser)
