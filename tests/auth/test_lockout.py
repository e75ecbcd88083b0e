"""Nobody else can lock the owner out: failures count per (account, source) and per account, and past
the per-account threshold the right password still works together with a code to the primary contact."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.users.models import User
from portal_devkit.testing.plugin import DEFAULT_PASSWORD

GENERIC_ERROR = "The username, email or phone number and the password do not match."
TOO_MANY = "Too many attempts"


@pytest.fixture
def alice(english, users):
    return users.create("alice", email="alice@example.com")


def attempt(app, ip, login="alice", password="wrong password!", client=None):
    client = client or app.test_client()
    return client.submit("/auth/sign-in", {"login": login, "password": password},
                         environ_base={"REMOTE_ADDR": ip}, headers={"Accept-Language": "en"}), client


def is_signed_in(client, ip) -> bool:
    return client.get("/auth/sign-in", environ_base={"REMOTE_ADDR": ip}).status_code == 302


def test_failures_from_one_source_do_not_lock_out_another(app, alice):
    for _ in range(5):
        attempt(app, "198.51.100.1")
    refused, _ = attempt(app, "198.51.100.1", password=DEFAULT_PASSWORD)
    assert refused.status_code == 400 and TOO_MANY in refused.get_data(as_text=True)
    signed_in, client = attempt(app, "203.0.113.9", password=DEFAULT_PASSWORD)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/user/profile"
    assert is_signed_in(client, "203.0.113.9")


def many_failures_from_everywhere(app, login="alice"):
    for source in range(5):
        for _ in range(4):
            attempt(app, f"198.51.100.{source + 10}", login=login)


def test_past_the_account_threshold_the_password_needs_a_code(app, alice, mailbox):
    many_failures_from_everywhere(app)
    response, client = attempt(app, "203.0.113.20", password=DEFAULT_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/sign-in/code"
    assert not is_signed_in(client, "203.0.113.20")
    page = client.get("/auth/sign-in/code", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "al***@example.com" in page
    done = client.submit("/auth/sign-in/code", {"code": mailbox.last_code("alice@example.com")},
                         environ_base={"REMOTE_ADDR": "203.0.113.20"})
    assert done.status_code == 302 and done.headers["Location"] == "/user/profile"
    assert is_signed_in(client, "203.0.113.20")


def test_a_wrong_code_does_not_sign_in(app, alice, mailbox):
    many_failures_from_everywhere(app)
    _, client = attempt(app, "203.0.113.21", password=DEFAULT_PASSWORD)
    code = mailbox.last_code("alice@example.com")
    refused = client.submit("/auth/sign-in/code", {"code": "000000" if code != "000000" else "111111"},
                            environ_base={"REMOTE_ADDR": "203.0.113.21"})
    assert refused.status_code == 400
    assert not is_signed_in(client, "203.0.113.21")


def test_past_the_threshold_a_wrong_password_gets_the_usual_answer_known_or_not(app, alice):
    many_failures_from_everywhere(app)
    many_failures_from_everywhere(app, login="nobody-at-all")
    known, _ = attempt(app, "203.0.113.30")
    unknown, _ = attempt(app, "203.0.113.31", login="nobody-at-all")
    assert known.status_code == unknown.status_code == 400
    assert GENERIC_ERROR in known.get_data(as_text=True) and GENERIC_ERROR in unknown.get_data(as_text=True)


def _authenticate(app, login, password, ip):
    """``authenticate`` as the sign-in form calls it: the outcome's name ("ok", the error's class or
    its message)."""
    from portal.auth import services

    with app.app_context():
        try:
            services.authenticate(login, password, ip)
        except services.CodeRequired:
            return "code required"
        except services.SignInError as exc:
            return "too many" if exc.message == services.too_many_attempts().message else f"refused: {exc.message}"
        return "ok"


def test_failures_for_one_account_never_count_against_another(app, alice, users):
    """Bug caught: the per-account failure key set to one value for everybody: twenty failures for
    any account anywhere would make every account need a code (and five from one place lock that
    place out of every account)."""
    users.create("bob", email="bob@example.com")
    many_failures_from_everywhere(app)
    for _ in range(5):
        assert _authenticate(app, "alice", "wrong password!", "198.51.100.77").startswith("refused")

    assert _authenticate(app, "bob", DEFAULT_PASSWORD, "198.51.100.77") == "ok"
    assert _authenticate(app, "bob", DEFAULT_PASSWORD, "203.0.113.77") == "ok"
    assert _authenticate(app, "alice", DEFAULT_PASSWORD, "203.0.113.78") == "code required"


def test_a_successful_sign_in_clears_the_failures_from_its_source(app, alice):
    """Bug caught: a successful sign-in not clearing the (account, source) failure counter, so the
    owner's own typos added up across days until their own computer was refused."""
    ip = "198.51.100.80"
    for _ in range(4):
        assert _authenticate(app, "alice", "wrong password!", ip).startswith("refused")
    assert _authenticate(app, "alice", DEFAULT_PASSWORD, ip) == "ok"
    for _ in range(4):
        assert _authenticate(app, "alice", "wrong password!", ip).startswith("refused")

    assert _authenticate(app, "alice", DEFAULT_PASSWORD, ip) == "ok"


def test_sign_in_attempts_are_limited_per_ip_even_when_they_succeed(app, alice, users):
    """Bug caught: the per-IP limit on sign-in attempts removed: one address could try passwords
    for many accounts without pause (each account's own counters never reached)."""
    from portal.auth import ratelimits

    limit = int(ratelimits.LIMITS["sign_in_ip"].split("/")[0])
    for _ in range(limit):
        assert _authenticate(app, "alice", DEFAULT_PASSWORD, "198.51.100.90") == "ok"

    assert _authenticate(app, "alice", DEFAULT_PASSWORD, "198.51.100.90") == "too many"
    assert _authenticate(app, "alice", DEFAULT_PASSWORD, "198.51.100.91") == "ok"


def test_failed_attempts_are_limited_per_ip_across_accounts(app, alice):
    """Bug caught: the failed-attempt limit per IP not checked before the password is: an address
    spraying one password over many logins was never stopped."""
    from portal.auth import ratelimits

    limit = int(ratelimits.LIMITS["sign_in_failed_ip"].split("/")[0])
    for n in range(limit):
        assert _authenticate(app, f"someone{n}", "wrong password!", "198.51.100.95").startswith("refused")

    assert _authenticate(app, "alice", DEFAULT_PASSWORD, "198.51.100.95") == "too many"
    assert _authenticate(app, "alice", DEFAULT_PASSWORD, "198.51.100.96") == "ok"


def test_signing_in_with_the_code_clears_the_accounts_failures(app, alice, mailbox):
    """Bug caught: the unlock not clearing the per-account counter: after proving it with a code,
    the owner needed a code again at every sign-in for the rest of the hour."""
    from portal.auth import services

    many_failures_from_everywhere(app)
    assert _authenticate(app, "alice", DEFAULT_PASSWORD, "203.0.113.40") == "code required"
    with app.app_context():
        user = db.session.get(User, alice)
        assert services.start_unlock(user) == "alice@example.com"
        signed_in = services.finish_unlock(alice, mailbox.last_code("alice@example.com"), "203.0.113.40")
        assert signed_in.id == alice

    assert _authenticate(app, "alice", DEFAULT_PASSWORD, "203.0.113.41") == "ok"


def test_the_code_sign_in_is_limited_per_ip(app, alice):
    """Bugs caught: the per-IP limit of the code step removed (codes could be guessed from one
    address over many accounts) or counted for all addresses together (one address would refuse
    everybody); a wrong code answered without the code's own message."""
    from portal.auth import ratelimits, services

    limit = int(ratelimits.LIMITS["sign_in_unlock_ip"].split("/")[0])
    with app.app_context():
        too_many = services.too_many_attempts().message
        for _ in range(limit):
            with pytest.raises(services.SignInError) as wrong:
                services.finish_unlock(alice, "000000", "198.51.100.99")
            assert wrong.value.message and wrong.value.message != too_many
        with pytest.raises(services.SignInError) as refused:
            services.finish_unlock(alice, "000000", "198.51.100.99")
        assert refused.value.message == too_many
        with pytest.raises(services.SignInError) as elsewhere:
            services.finish_unlock(alice, "000000", "198.51.100.98")
        assert elsewhere.value.message and elsewhere.value.message != too_many


def test_the_unlock_code_goes_to_the_verified_email_else_the_phone_else_nowhere(app, users, mailbox):
    """Bugs caught: the unlock code sent to an unverified email (whoever typed it in gets the way
    in), or an account without any contact answered differently from a locked source."""
    from portal.auth import services

    verified = users.create("vera", email="vera@example.com")
    unverified = users.create("una", email="una@example.com", verified=False)
    nothing = users.create("nemo", email="nemo@example.com", verified=False)
    with app.app_context():
        db.session.get(User, unverified).phone = "+8613800138001"
        db.session.commit()
        assert services.unlock_destination(db.session.get(User, verified)) == "vera@example.com"
        assert services.unlock_destination(db.session.get(User, unverified)) == "+8613800138001"
        assert services.start_unlock(db.session.get(User, unverified)) == "+8613800138001"
        with pytest.raises(services.SignInError) as refused:
            services.start_unlock(db.session.get(User, nothing))
        assert refused.value.message == services.too_many_attempts().message
    assert mailbox.to("una@example.com") == [] and len(mailbox.to("+8613800138001")) == 1


def test_a_disabled_account_cannot_sign_in_with_a_code(app, alice, mailbox):
    """Bug caught: the unlock step not checking the account is still active."""
    from portal.auth import services

    with app.app_context():
        user = db.session.get(User, alice)
        services.start_unlock(user)
        user.is_active = False
        db.session.commit()
        with pytest.raises(services.SignInError) as refused:
            services.finish_unlock(alice, mailbox.last_code("alice@example.com"), "198.51.100.60")
        assert refused.value.message == services.invalid_credentials().message
        assert db.session.get(User, alice).last_sign_in_at is None


def test_failures_for_one_unknown_login_do_not_refuse_another(app):
    """Bug caught: the key of a login that names nobody built from nothing, so five wrong passwords
    for any unknown login refused every other unknown login from that source, unlike known ones."""
    for _ in range(5):
        assert _authenticate(app, "ghost-one", "wrong password!", "198.51.100.120").startswith("refused")
    assert _authenticate(app, " Ghost-One ", "wrong password!", "198.51.100.120") == "too many"

    assert _authenticate(app, "ghost-two", "wrong password!", "198.51.100.120").startswith("refused")


def test_a_wrong_password_is_in_the_owners_security_log(app, alice, users):
    """Bug caught: a wrong password recorded for nobody, under another kind or without saying it
    was a password: the owner could not see that someone is guessing."""
    from portal.security_log.models import SecurityEvent

    bob = users.create("bob", email="bob@example.com")
    assert _authenticate(app, "alice", "wrong password!", "198.51.100.121").startswith("refused")
    assert _authenticate(app, "nobody-at-all", "wrong password!", "198.51.100.121").startswith("refused")
    with app.app_context():
        events = db.session.scalars(db.select(SecurityEvent).order_by(SecurityEvent.id)).all()
        assert [(e.kind, e.user_id, e.details) for e in events if e.kind.startswith("sign_in")] == [
            ("sign_in_failed", alice, {"method": "password"})]
        assert bob not in {e.user_id for e in events if e.kind == "sign_in_failed"}


def test_signing_in_keeps_a_current_hash(app, alice):
    """Bug caught: every sign-in hashing the password again (only a hash with old parameters is
    upgraded): a needless write and a slower sign-in each time."""
    with app.app_context():
        before = db.session.get(User, alice).password_hash
    assert _authenticate(app, "alice", DEFAULT_PASSWORD, "198.51.100.122") == "ok"
    with app.app_context():
        assert db.session.get(User, alice).password_hash == before


def test_the_unlock_code_draws_on_the_owners_budget_not_on_strangers(app, alice, mailbox):
    """Bug caught: the unlock code taken from the budget strangers share: anybody asking for a reset
    code to the owner's address would keep the owner from getting the code that lets them in."""
    from portal.auth import services

    with app.app_context():
        assert services.request_password_reset("alice@example.com", "198.51.100.123").retry_after == 0
        again = services.request_password_reset("alice@example.com", "198.51.100.124")
        assert again.retry_after > 0  # resting for everybody but the owner
        sent = len(mailbox.to("alice@example.com"))
        assert services.start_unlock(db.session.get(User, alice)) == "alice@example.com"
    assert len(mailbox.to("alice@example.com")) == sent + 1


def test_an_unlock_code_asked_again_at_once_gets_the_codes_own_answer(english, app, alice):
    """Bug caught: the reason a code was refused (asked again too soon) dropped from the answer."""
    from portal.auth import services

    with app.app_context():
        user = db.session.get(User, alice)
        services.start_unlock(user)
        with pytest.raises(services.SignInError) as resting:
            services.start_unlock(user)
    assert resting.value.message.startswith("Too many codes were requested. Please try again in ")


@pytest.fixture
def no_sms(english):
    english["PLUGINS_DISABLED"] = ("aliyun_sms",)
    return english


def test_an_unlock_code_that_cannot_be_delivered_says_so(no_sms, app, users):
    """Bug caught: the answer when the code could not go out lost or garbled (the owner would wait
    for a code that never comes)."""
    from portal.auth import services

    pat = users.create("pat", email="pat@example.com", verified=False)
    with app.app_context():
        user = db.session.get(User, pat)
        user.phone = "+8613800138002"
        db.session.commit()
        with pytest.raises(services.SignInError) as refused:
            services.start_unlock(user)
    assert refused.value.message == "The code could not be sent just now. Please try again later."
