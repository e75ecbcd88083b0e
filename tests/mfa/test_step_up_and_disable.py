"""With two-factor sign-in on, step-up asks for the second factor (a password is not enough); turning it
off needs that step-up and tells the owner."""
from __future__ import annotations

import time

from portal.auth import stepup
from portal.extensions import db
from portal.mfa.models import RecoveryCode, TotpAuthenticator
from portal.security_log.models import SecurityEvent
from portal_devkit.testing.plugin import DEFAULT_PASSWORD
from tests.mfa.conftest import sign_in_password


def signed_in(app, alice, stale=True):
    client = app.test_client()
    sign_in_password(client)
    client.submit("/auth/two-factor", {"code": alice.code()})
    if stale:
        with client.session_transaction() as session:
            session[stepup.SESSION_KEY] = time.time() - stepup.FRESH_SECONDS - 1
    return client


def disable(client):
    return client.submit("/user/two-factor/disable", page="/user/two-factor",
                         headers={"Referer": "http://localhost/user/two-factor"})


def test_step_up_asks_for_the_second_factor_not_the_password(app, alice):
    client = signed_in(app, alice)
    page = client.get("/auth/step-up").get_data(as_text=True)
    assert 'value="second_factor"' in page and 'name="password"' not in page
    refused = client.submit("/auth/step-up", {"password": DEFAULT_PASSWORD, "action": "password"})
    assert refused.status_code == 400 and "Confirm with your second factor." in refused.get_data(as_text=True)
    assert disable(client).headers["Location"].startswith("/auth/step-up")
    confirmed = client.submit("/auth/step-up", {"code": alice.code(1), "action": "second_factor",
                                                "next": "/user/two-factor"})
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/user/two-factor"


def test_a_wrong_second_factor_leaves_the_step_up_stale(app, alice):
    client = signed_in(app, alice)
    refused = client.submit("/auth/step-up", {"code": alice.wrong_code(), "action": "second_factor"})
    assert refused.status_code == 400 and "The code is wrong" in refused.get_data(as_text=True)
    assert disable(client).headers["Location"].startswith("/auth/step-up")


def test_turning_it_off_needs_the_step_up_and_sends_a_notice(app, alice, mailbox):
    client = signed_in(app, alice, stale=False)
    response = disable(client)
    assert response.headers["Location"] == "/user/two-factor"
    assert "Two-factor sign-in was turned off" in mailbox.notices("alice@example.com")[-1]["body"]
    with app.app_context():
        assert db.session.scalar(db.select(TotpAuthenticator).filter_by(user_id=alice.user_id)) is None
        assert db.session.scalar(db.select(RecoveryCode).filter_by(user_id=alice.user_id)) is None
        assert db.session.scalars(db.select(SecurityEvent.kind).filter_by(kind="mfa_disabled")).one()
    # The password alone signs in again.
    other = app.test_client()
    assert sign_in_password(other).headers["Location"] == "/user/profile"
