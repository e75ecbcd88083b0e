"""What confirming a password reset answers and leaves behind: the policy's answer before any
account is looked up, the code's own message, the security log, the owner's notice, and the
operator's log line when a reset code cannot go out."""
from __future__ import annotations

import logging

import pytest

from portal.extensions import db
from portal.users.models import User

NEW_PASSWORD = "a brand new passphrase"
PHONE = "+8613800138000"


@pytest.fixture
def no_sms(portal_config):
    portal_config["PLUGINS_DISABLED"] = ("aliyun_sms",)
    return portal_config


def phone_only_user(app, users, username="pat") -> int:
    """A user whose only verified contact is PHONE."""
    user_id = users.create(username, verified=False)
    with app.app_context():
        user = db.session.get(User, user_id)
        user.phone, user.phone_verified_at = PHONE, user.created_at
        db.session.commit()
    return user_id


def reset_with_the_code(app, mailbox, contact, new_password=NEW_PASSWORD, code=None):
    from portal.auth import services

    with app.app_context():
        services.request_password_reset(contact, "198.51.100.40")
        return services.reset_password(contact, code or mailbox.last_code(contact), new_password,
                                       "198.51.100.40").id


def test_a_weak_password_gets_the_policy_answer_for_a_contact_of_nobody_too(app):
    """Bug caught: the anonymous policy check skipped, so a weak password got "wrong code" for an
    unknown contact and the policy's answer for a known one: the answer told which contacts exist."""
    from portal.auth import services

    with app.app_context(), pytest.raises(ValueError) as refused:
        services.reset_password("nobody@example.com", "123456", "short", "198.51.100.41")
    assert not isinstance(refused.value, services.SignInError)


def test_every_problem_of_the_new_password_is_told_one_after_another(english, app):
    """Bug caught: the password's problems run together (or joined by junk) when there are several."""
    from portal import passwords
    from portal.auth import services

    with app.app_context():
        problems = passwords.password_problems("1234")
        with pytest.raises(ValueError) as refused:
            services.reset_password("nobody@example.com", "123456", "1234", "198.51.100.44")
    assert len(problems) == 2 and str(refused.value) == f"{problems[0]} {problems[1]}"


def test_a_reset_for_a_contact_of_nobody_gets_the_wrong_code_answer(english, app):
    """Bug caught: the answer for a contact no account uses garbled or empty (the only answer the
    visitor gets, the same as for a wrong code)."""
    from portal.auth import services

    with app.app_context(), pytest.raises(services.SignInError) as refused:
        services.reset_password("nobody@example.com", "123456", NEW_PASSWORD, "198.51.100.45")
    assert refused.value.message == "The code is wrong or has expired. Ask for a new one."


def test_a_wrong_reset_code_gets_the_codes_own_message(english, app, users, mailbox):
    """Bug caught: the code's own message (incorrect, expired, used up) replaced by the generic one,
    so the owner is never told that the code died after too many tries."""
    from portal.auth import services

    users.create("alice", email="alice@example.com")
    with app.app_context():
        services.request_password_reset("alice@example.com", "198.51.100.42")
        code = mailbox.last_code("alice@example.com")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        with pytest.raises(services.SignInError) as refused:
            services.reset_password("alice@example.com", wrong, NEW_PASSWORD, "198.51.100.42")
    assert refused.value.message == "The verification code is incorrect."


def _reset_events(app, user_id) -> list[dict]:
    from portal.security_log.models import SecurityEvent

    with app.app_context():
        return [event.details for event in db.session.scalars(
            db.select(SecurityEvent).filter_by(kind="password_reset").order_by(SecurityEvent.id))
            if event.user_id == user_id]


def _notice_lines(mailbox, destination) -> list[str]:
    return [line for notice in mailbox.notices(destination) for line in notice["body"].splitlines()]


def test_a_reset_by_email_is_logged_and_told_to_the_owner_with_the_masked_address(english, app, users,
                                                                                   mailbox):
    """Bugs caught: the reset missing from the owner's security log or recorded for nobody, the log
    not saying it came by email, and the notice not naming (masked) the address the code went to."""
    users.create("bob", email="bob@example.com")
    alice = users.create("alice", email="alice@example.com")
    assert reset_with_the_code(app, mailbox, "alice@example.com") == alice

    assert _reset_events(app, alice) == [{"via": "email"}]
    assert ("The password of your account was reset with a code sent to al***@example.com."
            in _notice_lines(mailbox, "alice@example.com"))


def test_a_reset_by_phone_is_logged_and_told_to_the_owner_with_the_masked_phone(english, app, users, mailbox):
    """Bugs caught: a reset by SMS code logged as by email, or the phone masked as if it were an
    email address in the notice."""
    pat = phone_only_user(app, users)
    assert reset_with_the_code(app, mailbox, PHONE) == pat

    assert _reset_events(app, pat) == [{"via": "phone"}]
    [sms] = [notice["body"] for notice in mailbox.notices(PHONE)]
    assert ": The password of your account was reset with a code sent to 138****8000. " in sms


def test_a_reset_code_that_cannot_go_out_is_logged_for_the_operator_and_answered_as_usual(
        no_sms, app, users, caplog):
    """Bug caught: the operator's warning for an undelivered reset code without the user or the
    reason (the visitor's answer must stay the usual one, so the log is the only trace)."""
    from portal.auth import services

    pat = phone_only_user(app, users)
    with app.app_context(), caplog.at_level(logging.WARNING, logger="portal.auth.services"):
        answer = services.request_password_reset(PHONE, "198.51.100.43")
    assert answer == services.ResetRequest(PHONE)
    assert [r.getMessage() for r in caplog.records if r.name == "portal.auth.services"] == [
        f"reset code for user {pat} not sent: DeliveryError"]
