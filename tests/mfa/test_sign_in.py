"""With two-factor sign-in on, the password (or the lockout code, or a provider) is only the first step:
the authenticator's code, once, within one step either side of now, and wrong codes are limited."""
from __future__ import annotations

import time

import pytest

from portal import create_app
from portal.extensions import db
from portal.mfa import totp
from portal.mfa.errors import SecondFactorError
from portal.security_log.models import SecurityEvent
from portal.users.models import User
from tests.mfa.conftest import is_signed_in, sign_in_password


def second_step(client, code):
    return client.submit("/auth/two-factor", {"code": code})


def last_sign_in_at(app, alice):
    with app.app_context():
        return db.session.get(User, alice.user_id).last_sign_in_at


def test_the_password_alone_does_not_sign_in(app, client, alice):
    """Bug caught: the password step recorded as the account's last sign-in before the second factor."""
    response = sign_in_password(client, next="/user/emails")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/two-factor"
    assert not is_signed_in(client)
    assert last_sign_in_at(app, alice) is None
    done = second_step(client, alice.code())
    assert done.status_code == 302 and done.headers["Location"] == "/user/emails"
    assert is_signed_in(client)
    assert last_sign_in_at(app, alice) is not None
    with app.app_context():
        event = db.session.scalars(db.select(SecurityEvent).filter_by(kind="sign_in")).one()
    assert event.details["method"] == "password" and event.details["second_factor"] == "totp"


def test_the_second_step_without_a_password_first_goes_back_to_sign_in(client, alice):
    assert client.get("/auth/two-factor").headers["Location"] == "/auth/sign-in"


def test_a_wrong_code_is_refused_and_logged(app, client, alice):
    sign_in_password(client)
    refused = second_step(client, alice.wrong_code())
    assert refused.status_code == 400 and "The code is wrong" in refused.get_data(as_text=True)
    assert not is_signed_in(client)
    with app.app_context():
        event = db.session.scalars(db.select(SecurityEvent).filter_by(kind="sign_in_failed")).one()
    assert event.details == {"method": "second_factor"}


def test_a_replayed_code_is_refused(app, client, alice):
    code = alice.code()
    sign_in_password(client)
    assert second_step(client, code).status_code == 302
    other = app.test_client()
    sign_in_password(other)
    refused = second_step(other, code)
    assert refused.status_code == 400
    assert "already used" in refused.get_data(as_text=True)


def test_a_replayed_code_is_refused_by_another_instance(app, portal_config, client, alice, tmp_path):
    code = alice.code()
    sign_in_password(client)
    assert second_step(client, code).status_code == 302
    # A second instance: its own app, process-local state and rate-limit storage; the same database.
    other_app = create_app(portal_config, instance_path=str(tmp_path / "other"))
    other_app.test_client_class = type(client)
    other = other_app.test_client()
    sign_in_password(other)
    assert second_step(other, code).status_code == 400
    with other_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("offset,accepted", [(-2, False), (-1, False), (0, True), (1, True), (2, False)])
def test_tolerance_is_one_step_either_side(app, alice, offset, accepted):
    # The enrolment spent step -1, so only steps after it pass; step -1 is a replay.
    with app.app_context():
        now = time.time()
        code = totp._totp(_secret(app, alice)).generate_otp(int(now) // totp.STEP_SECONDS + offset)
        if accepted:
            totp.verify(alice.user_id, code, now=now)
        else:
            with pytest.raises(SecondFactorError):
                totp.verify(alice.user_id, code, now=now)


def _secret(app, alice):
    from tests.mfa.conftest import secret_of

    return secret_of(app, alice.user_id)


def test_an_older_step_is_refused_after_a_newer_one(app, alice):
    with app.app_context():
        now = time.time()
        totp.verify(alice.user_id, alice.code(1), now=now)
        db.session.commit()
        with pytest.raises(SecondFactorError):
            totp.verify(alice.user_id, alice.code(0), now=now)


def test_wrong_codes_are_limited_like_passwords(app, client, alice):
    sign_in_password(client)
    for _ in range(5):
        assert second_step(client, alice.wrong_code()).status_code == 400
    refused = second_step(client, alice.code())
    assert "Too many wrong codes" in refused.get_data(as_text=True)
    assert not is_signed_in(client)


def test_a_third_party_sign_in_asks_for_the_second_factor(app, alice, provider_browser):
    browser = provider_browser()
    client = browser.client
    sign_in_password(client)
    second_step(client, alice.code())
    browser.link("github")
    client.submit("/auth/sign-out", page="/auth/forgot-password")
    response = browser.sign_in("github")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/two-factor"
    assert not is_signed_in(client)
    assert second_step(client, alice.code(1)).status_code == 302
    assert is_signed_in(client)
    with app.app_context():
        methods = [e.details["method"] for e in db.session.scalars(db.select(SecurityEvent).filter_by(kind="sign_in"))]
    assert methods == ["password", "provider:github"]


def test_past_the_failed_attempt_threshold_the_second_factor_replaces_the_emailed_code(app, client, alice, mailbox):
    from portal.auth import ratelimits

    with app.test_request_context():
        for _ in range(20):
            ratelimits.hit("sign_in_failed_account", f"user:{alice.user_id}")
    sent_before = len(mailbox.to("alice@example.com"))
    response = sign_in_password(client)
    assert response.headers["Location"] == "/auth/two-factor"
    assert len(mailbox.to("alice@example.com")) == sent_before
    assert second_step(client, alice.code()).status_code == 302
    with app.test_request_context():
        assert ratelimits.allowed("sign_in_failed_account", f"user:{alice.user_id}")


def test_a_password_change_meanwhile_voids_the_half_done_sign_in(app, client, alice):
    sign_in_password(client)
    with app.app_context():
        user = db.session.get(User, alice.user_id)
        user.session_version = User.session_version + 1
        db.session.commit()
    assert client.get("/auth/two-factor").headers["Location"] == "/auth/sign-in"
