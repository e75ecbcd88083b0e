"""Checking a code at its edges: a newer code sent while an older one is being checked, the exact
expiry instant, the stored hash's recipe, the language of a refusal outside a request."""
from __future__ import annotations

import hashlib
import hmac
import threading

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.verification import services
from portal.verification.models import VerificationCode
from portal.verification.services import InvalidCode, check_code, send_code
from tests.verification.conftest import wrong

EMAIL = "grace@example.com"


def _send_from_another_request(app):
    """A second browser asks for a new code to EMAIL (it replaces the pending one), and commits."""
    def send():
        with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.7"}):
            try:
                send_code("verify_email", EMAIL)
            finally:
                db.session.remove()

    other = threading.Thread(target=send)
    other.start()
    other.join()


def _attempts() -> int:
    return db.session.execute(sa.select(VerificationCode.attempts)).scalar_one()


def test_a_code_replaced_while_it_is_checked_is_not_accepted(generous_limits, app, mailbox, monkeypatch):
    """Bug caught: marking the code used by its row alone, not by the code it held: a code replaced
    between its check and its use was accepted, and used up the newer code the person was sent."""
    with app.test_request_context():
        send_code("verify_email", EMAIL)
    old = mailbox.last_code(EMAIL)
    real_compare = hmac.compare_digest

    def compare_while_a_new_code_is_sent(a, b):
        monkeypatch.setattr(services.hmac, "compare_digest", real_compare)
        _send_from_another_request(app)
        return real_compare(a, b)

    monkeypatch.setattr(services.hmac, "compare_digest", compare_while_a_new_code_is_sent)
    with app.test_request_context():
        with pytest.raises(InvalidCode, match="已使用"):
            check_code("verify_email", EMAIL, old)
        check_code("verify_email", EMAIL, mailbox.last_code(EMAIL))


def test_a_guess_at_a_replaced_code_uses_none_of_the_new_codes_tries(generous_limits, app, mailbox):
    """Bug caught: claiming a try by the row alone, not by the code it held: a guess at a code replaced
    in the meantime counted against the newer code."""
    with app.test_request_context():
        send_code("verify_email", EMAIL)
    old = mailbox.last_code(EMAIL)
    replaced = []

    def before_the_claim(conn, cursor, statement, parameters, context, executemany):
        if not replaced and statement.lstrip().upper().startswith("UPDATE VERIFICATION_CODES SET ATTEMPTS"):
            replaced.append(True)
            _send_from_another_request(app)

    with app.test_request_context():
        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", before_the_claim)
        try:
            with pytest.raises(InvalidCode):
                check_code("verify_email", EMAIL, old)
        finally:
            sa.event.remove(engine, "before_cursor_execute", before_the_claim)
        assert replaced and _attempts() == 0
        check_code("verify_email", EMAIL, mailbox.last_code(EMAIL))


def test_a_code_is_dead_at_the_instant_it_expires(ctx, mailbox, monkeypatch):
    send_code("verify_email", EMAIL)
    expires_at = db.session.execute(sa.select(VerificationCode.expires_at)).scalar_one()
    monkeypatch.setattr(services, "utcnow", lambda: expires_at)
    with pytest.raises(InvalidCode, match="已过期"):
        check_code("verify_email", EMAIL, mailbox.last_code(EMAIL))


@pytest.mark.parametrize("secret", ["a-secret-key-of-thirty-two-chars!", b"a-secret-key-of-thirty-two-bytes"])
def test_the_stored_hash_keeps_its_recipe(app, users, mailbox, secret):
    """Codes in flight while a new version rolls out keep working only if the hash's recipe stays:
    HMAC-SHA256 under SECRET_KEY (text or bytes) of purpose, destination, user id and code."""
    app.config["SECRET_KEY"] = secret
    key = secret.encode() if isinstance(secret, str) else secret
    user_id = users.create("grace", email=EMAIL)
    with app.test_request_context():
        send_code("verify_email", EMAIL)
        send_code("change_password", EMAIL, user_id=user_id, for_owner=True)
    codes = [message["body"] for message in mailbox.to(EMAIL)]
    expected = set()
    for (purpose, user), body in zip([("verify_email", ""), ("change_password", str(user_id))], codes):
        code = mailbox.CODE.search(body).group(1)
        message = "\x00".join(("verification-code", purpose, EMAIL, user, code))
        expected.add(hmac.new(key, message.encode(), hashlib.sha256).hexdigest())
    with app.app_context():
        assert set(db.session.scalars(sa.select(VerificationCode.code_hash))) == expected


def test_a_malformed_address_at_checking_is_told_as_a_wrong_code(ctx):
    with pytest.raises(InvalidCode) as refused:
        check_code("verify_email", "not@an@address", "123456")
    assert refused.value.message == "验证码不正确。"


def test_a_refusal_outside_a_request_is_in_the_users_language(app, users, mailbox):
    from portal.users.models import User

    user_id = users.create("henry")
    with app.app_context():
        db.session.get(User, user_id).locale = "en"
        db.session.commit()
        send_code("reset_password", "henry@example.com", user_id=user_id)
        with pytest.raises(InvalidCode, match="^The verification code is incorrect"):
            check_code("reset_password", "henry@example.com", wrong(mailbox.last_code("henry@example.com")),
                       user_id=user_id)


def test_outside_a_request_codes_speak_the_sites_default_language(app, mailbox):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    with app.app_context():
        send_code("verify_email", EMAIL)
    assert mailbox.to(EMAIL)[-1]["subject"].startswith("Portal verification code")


def test_a_new_code_starts_unused_with_all_its_tries(generous_limits, app, mailbox):
    """Bug caught: a new code taking over the row of the one it replaces without resetting it: it
    kept the wrong tries made at the old code, or its "used" mark."""
    with app.test_request_context():
        send_code("verify_email", EMAIL)
        for _ in range(3):
            with pytest.raises(InvalidCode):
                check_code("verify_email", EMAIL, wrong(mailbox.last_code(EMAIL)))
        send_code("verify_email", EMAIL)
        for _ in range(4):
            with pytest.raises(InvalidCode, match="验证码不正确"):
                check_code("verify_email", EMAIL, wrong(mailbox.last_code(EMAIL)))
        check_code("verify_email", EMAIL, mailbox.last_code(EMAIL))
        send_code("verify_email", EMAIL)
        check_code("verify_email", EMAIL, mailbox.last_code(EMAIL))


def test_a_first_code_sent_at_the_same_moment_as_another_replaces_it(generous_limits, app, mailbox):
    """Bug caught: the path taken when another request stores the first code for an address between
    this request's look-up and its insert failing, or keeping both codes: the code sent last works,
    the other does not. PostgreSQL only: SQLite's single writer never lets the two interleave."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the interleaving needs concurrent writers (PostgreSQL)")
        engine = db.engine
    interleaved = []

    def before_the_insert(conn, cursor, statement, parameters, context, executemany):
        if not interleaved and statement.lstrip().upper().startswith("INSERT INTO VERIFICATION_CODES"):
            interleaved.append(True)
            _send_from_another_request(app)

    sa.event.listen(engine, "before_cursor_execute", before_the_insert)
    try:
        with app.test_request_context():
            send_code("verify_email", EMAIL)
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_the_insert)
    first, last = [mailbox.CODE.search(m["body"]).group(1) for m in mailbox.to(EMAIL)]
    with app.test_request_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(VerificationCode)).scalar_one() == 1
        if first != last:
            with pytest.raises(InvalidCode):
                check_code("verify_email", EMAIL, first)
        check_code("verify_email", EMAIL, last)
