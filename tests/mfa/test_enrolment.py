"""Enrolling an authenticator app: QR code and secret, the first code confirms it, the secret is
encrypted at rest, recovery codes are shown once; only with a verified email or a bound phone."""
from __future__ import annotations

import re

import pyotp

from portal.extensions import db
from portal.mfa.models import RecoveryCode, TotpAuthenticator
from tests.mfa.conftest import Authenticator, secret_of


def start(client):
    return client.submit("/user/two-factor/totp/start", page="/user/two-factor")


def shown_secret(page: str) -> str:
    return re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


def test_enrolment_shows_a_qr_code_and_the_secret_and_the_first_code_turns_it_on(app, users, mailbox):
    client, user_id = users.signed_in_client("alice")
    response = start(client)
    assert response.status_code == 302 and response.headers["Location"] == "/user/two-factor/totp"
    page = client.get("/user/two-factor/totp").get_data(as_text=True)
    assert "<svg" in page and "<script>" not in page
    secret = shown_secret(page)
    assert secret == secret_of(app, user_id)
    with app.app_context():
        stored = db.session.scalar(db.select(TotpAuthenticator.secret_encrypted).filter_by(user_id=user_id))
    assert secret not in stored and stored.startswith("v1.")

    done = client.submit("/user/two-factor/totp", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    codes = re.findall(r"<li class=\"col\">([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</li>", body)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'download="recovery-codes.txt"' in body
    with app.app_context():
        hashes = db.session.scalars(db.select(RecoveryCode.code_hash).filter_by(user_id=user_id)).all()
    assert len(hashes) == 10 and not any(code.replace("-", "") in h for code in codes for h in hashes)
    assert "Two-factor sign-in was turned on" in mailbox.notices("alice@example.com")[-1]["body"]
    assert "Recovery codes left: 10 of 10." in client.get("/user/two-factor").get_data(as_text=True)
    # Shown once: nothing on the settings page repeats them.
    assert codes[0] not in client.get("/user/two-factor").get_data(as_text=True)


def test_a_wrong_first_code_leaves_it_off(app, users):
    client, user_id = users.signed_in_client("alice")
    start(client)
    refused = client.submit("/user/two-factor/totp", {"code": Authenticator(secret_of(app, user_id)).wrong_code()})
    assert refused.status_code == 400
    assert "The code is wrong" in refused.get_data(as_text=True)
    assert "Set up an authenticator app" in client.get("/user/two-factor").get_data(as_text=True)


def test_enrolment_cannot_be_finished_in_another_session(app, users):
    client, user_id = users.signed_in_client("alice")
    start(client)
    code = Authenticator(secret_of(app, user_id)).code()
    other = app.test_client()
    users.sign_in(other, "alice")
    response = other.submit("/user/two-factor/totp", {"code": code}, page="/user/two-factor")
    assert response.status_code == 302 and response.headers["Location"] == "/user/two-factor"
    with app.app_context():
        assert db.session.scalar(db.select(TotpAuthenticator.confirmed_at).filter_by(user_id=user_id)) is None


def test_enrolment_needs_a_verified_email_or_a_phone(app, users):
    user_id = users.create("bob", verified=False)
    client = app.test_client()
    users.sign_in(client, "bob")
    assert "Verify an email address or bind a phone first" in client.get("/user/two-factor").get_data(as_text=True)
    response = start(client)
    assert response.headers["Location"] == "/user/two-factor"
    with app.app_context():
        assert db.session.scalar(db.select(TotpAuthenticator).filter_by(user_id=user_id)) is None


def test_a_phone_only_user_turns_it_on_and_is_told_by_sms(app, users, mailbox):
    """Bug caught: people who signed up by phone (no email at all) could never turn two-factor on."""
    from portal.users.services import register_phone_user

    with app.app_context():
        user_id = register_phone_user("carol", "+8613800138011", "correct horse battery staple").id
    client = app.test_client()
    users.sign_in(client, "carol", "correct horse battery staple")
    assert "Set up an authenticator app" in client.get("/user/two-factor").get_data(as_text=True)
    assert start(client).headers["Location"] == "/user/two-factor/totp"
    done = client.submit("/user/two-factor/totp", {"code": Authenticator(secret_of(app, user_id)).code()})
    assert done.status_code == 200 and "recovery-codes.txt" in done.get_data(as_text=True)
    assert "Two-factor sign-in was turned on" in mailbox.notices("+8613800138011")[-1]["body"]


def test_starting_the_enrolment_needs_a_fresh_step_up(app, users):
    import time

    from portal.auth import stepup

    client, _ = users.signed_in_client("alice")
    with client.session_transaction() as session:
        session[stepup.SESSION_KEY] = time.time() - stepup.FRESH_SECONDS - 1
    response = client.submit("/user/two-factor/totp/start", page="/user/two-factor",
                             headers={"Referer": "http://localhost/user/two-factor"})
    assert response.headers["Location"].startswith("/auth/step-up")


def test_the_secret_is_reencrypted_with_a_new_key(app, users, runner, portal_config):
    from tests.mfa.conftest import enrol

    user_id = users.create("alice")
    enrol(app, user_id)
    secret = secret_of(app, user_id)
    from portal.crypto import new_key

    app.config["PERSONAL_DATA_KEYS"] = [new_key("k3"), *portal_config["PERSONAL_DATA_KEYS"]]
    from portal import crypto

    crypto.init_app(app)
    result = runner.invoke(args=["portal", "users", "rotate-2fa-key"])
    assert "re-encrypted 1 authenticator secrets" in result.output
    with app.app_context():
        stored = db.session.scalar(db.select(TotpAuthenticator.secret_encrypted).filter_by(user_id=user_id))
    assert stored.startswith("v1.k3.")
    assert secret_of(app, user_id) == secret
