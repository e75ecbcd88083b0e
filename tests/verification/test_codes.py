"""Verification codes: 6 digits, stored hashed, bound to purpose + destination + user, 10 minutes,
single use, dead after 5 wrong tries, a newer code replaces the older one."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.plugins import DeliveryError
from portal.verification.models import VerificationCode
from portal.verification.services import InvalidCode, check_code, send_code
from tests.verification.conftest import wrong

EMAIL = "grace@example.com"
PHONE = "+8613800138000"


def test_a_code_is_six_digits_accepted_once(ctx, mailbox):
    send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    assert len(code) == 6 and code.isdigit()
    check_code("verify_email", EMAIL, code)
    with pytest.raises(InvalidCode, match="已使用"):
        check_code("verify_email", EMAIL, code)


def test_only_a_keyed_hash_of_the_code_is_stored(ctx, mailbox):
    send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    row = db.session.execute(sa.select(VerificationCode)).scalar_one()
    stored = " ".join(str(value) for value in db.session.execute(sa.select(VerificationCode.__table__)).one())
    assert code not in stored
    assert len(row.code_hash) == 64


def test_phone_codes_work_the_same_way(ctx, mailbox):
    send_code("bind_phone", PHONE)
    check_code("bind_phone", PHONE, mailbox.last_code(PHONE))


def test_the_address_is_matched_without_regard_to_case(ctx, mailbox):
    send_code("verify_email", "Grace@Example.COM")
    check_code("verify_email", "grace@example.com", mailbox.last_code(EMAIL))


def test_a_code_expires_after_ten_minutes(ctx, mailbox):
    send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    # As if it had been sent ten minutes and a second ago:
    row = db.session.execute(sa.select(VerificationCode)).scalar_one()
    row.created_at -= timedelta(minutes=10, seconds=1)
    row.expires_at -= timedelta(minutes=10, seconds=1)
    db.session.commit()
    with pytest.raises(InvalidCode, match="已过期"):
        check_code("verify_email", EMAIL, code)


def test_five_wrong_tries_kill_the_code(ctx, mailbox):
    send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    for _ in range(4):
        with pytest.raises(InvalidCode, match="验证码不正确"):
            check_code("verify_email", EMAIL, wrong(code))
    with pytest.raises(InvalidCode, match="错误次数过多"):
        check_code("verify_email", EMAIL, wrong(code))
    with pytest.raises(InvalidCode, match="错误次数过多"):
        check_code("verify_email", EMAIL, code)


def test_the_right_code_on_the_fifth_try_still_works(ctx, mailbox):
    send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    for _ in range(4):
        with pytest.raises(InvalidCode):
            check_code("verify_email", EMAIL, wrong(code))
    check_code("verify_email", EMAIL, code)


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12 34 5", "\x00" * 6, "9" * 10_000])
def test_a_malformed_code_is_refused_without_using_a_try(ctx, mailbox, typed):
    send_code("verify_email", EMAIL)
    with pytest.raises(InvalidCode, match="请输入 6 位数字验证码"):
        check_code("verify_email", EMAIL, typed)
    assert db.session.execute(sa.select(VerificationCode.attempts)).scalar_one() == 0


def test_spaces_and_full_width_digits_typed_by_an_ime_are_understood(ctx, mailbox):
    send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in code)
    check_code("verify_email", EMAIL, f" {full_width[:3]} {full_width[3:]} ")


def test_a_code_for_another_purpose_is_refused(ctx, mailbox):
    send_code("verify_email", EMAIL)
    with pytest.raises(InvalidCode):
        check_code("reset_password", EMAIL, mailbox.last_code(EMAIL))


def test_a_code_for_another_destination_is_refused(ctx, mailbox):
    send_code("verify_email", EMAIL)
    with pytest.raises(InvalidCode):
        check_code("verify_email", "mallory@example.com", mailbox.last_code(EMAIL))


def test_a_code_sent_for_one_user_does_not_work_for_another(ctx, users, mailbox):
    grace, mallory = users.create("grace"), users.create("mallory")
    send_code("change_password", EMAIL, user_id=grace)
    code = mailbox.last_code(EMAIL)
    with pytest.raises(InvalidCode, match="验证码不正确"):
        check_code("change_password", EMAIL, code, user_id=mallory)
    with pytest.raises(InvalidCode):
        check_code("change_password", EMAIL, code)
    check_code("change_password", EMAIL, code, user_id=grace)


def test_a_newer_code_replaces_the_older_one(app, mailbox):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"}):
        send_code("verify_email", EMAIL)
    first = mailbox.last_code(EMAIL)
    # A minute later (the per-destination limit allows one a minute):
    app.config["VERIFICATION_SEND_LIMITS"] = "5/hour"
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"}):
        send_code("verify_email", EMAIL)
        second = mailbox.last_code(EMAIL)
        if first != second:
            with pytest.raises(InvalidCode):
                check_code("verify_email", EMAIL, first)
        check_code("verify_email", EMAIL, second)
        assert db.session.execute(sa.select(sa.func.count()).select_from(VerificationCode)).scalar_one() == 1


def test_concurrent_submissions_of_the_right_code_succeed_once(app, mailbox):
    with app.test_request_context():
        send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    outcomes = []
    start = threading.Barrier(4)

    def submit():
        with app.app_context():
            start.wait()
            try:
                check_code("verify_email", EMAIL, code)
                outcomes.append("accepted")
            except InvalidCode:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted", "refused", "refused", "refused"]


def test_the_message_is_in_the_users_language_outside_a_request(app, users, mailbox):
    from portal.users.models import User

    with app.app_context():
        user_id = users.create("henry")
        db.session.get(User, user_id).locale = "en"
        db.session.commit()
        send_code("reset_password", "henry@example.com", user_id=user_id)
    assert mailbox.to("henry@example.com")[-1]["subject"] == \
        "Portal verification code for resetting the password"


def test_codes_are_never_logged(ctx, mailbox, caplog):
    caplog.set_level(logging.DEBUG)
    send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    check_code("verify_email", EMAIL, code)
    assert code not in caplog.text


def test_without_a_plugin_for_the_channel_sending_fails_loudly(make_app):
    app = make_app(PLUGINS_DISABLED=("aliyun_sms",))
    with app.test_request_context(), pytest.raises(DeliveryError, match="sms"):
        send_code("bind_phone", PHONE)


@pytest.mark.parametrize("destination", ["not-a-phone", "+86 138", "a@b@c", "x" * 250 + "@example.com", ""])
def test_a_malformed_destination_is_refused_before_anything_is_sent(ctx, mailbox, destination):
    from portal.verification.services import CodeError

    before = len(mailbox.messages)
    with pytest.raises(CodeError):
        send_code("verify_email", destination)
    assert len(mailbox.messages) == before


def test_concurrent_first_sends_to_one_address_leave_one_live_code(app, mailbox):
    app.config["VERIFICATION_SEND_LIMITS"] = "10/minute"
    start = threading.Barrier(3)
    errors = []

    def request_code():
        with app.test_request_context():
            start.wait()
            try:
                send_code("verify_email", "pat@example.com")
            except Exception as exc:  # noqa: BLE001 - the test reports any failure
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request_code) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(VerificationCode)).scalar_one() == 1
        codes = {m["body"] for m in mailbox.to("pat@example.com")}
        assert len(codes) == 3
        accepted = 0
        for body in codes:
            try:
                check_code("verify_email", "pat@example.com", mailbox.CODE.search(body).group(1))
                accepted += 1
            except InvalidCode:
                pass
        assert accepted == 1


def test_live_codes_for_other_purposes_addresses_and_users_are_each_their_own(app, users, mailbox):
    """Bugs caught: the code look-up without one of its filters (purpose, destination, user), which
    fails with a server error once two codes are live; a new code replacing another purpose's,
    address's or user's code."""
    grace = users.create("grace", email="grace.own@example.com")
    app.config["VERIFICATION_SEND_LIMITS"] = "20/minute"
    sent = [("verify_email", EMAIL, None), ("reset_password", EMAIL, None),
            ("verify_email", "other@example.com", None), ("verify_email", EMAIL, grace)]
    codes = []
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"}):
        for purpose, destination, user_id in sent:
            send_code(purpose, destination, user_id=user_id, for_owner=user_id is not None)
            codes.append(mailbox.last_code(destination))
        assert db.session.execute(sa.select(sa.func.count()).select_from(VerificationCode)).scalar_one() == 4

        for (purpose, destination, user_id), code in zip(sent, codes):
            check_code(purpose, destination, code, user_id=user_id)

        used = db.session.scalars(sa.select(VerificationCode.used_at)).all()
        assert len(used) == 4 and None not in used


def test_a_wrong_guess_counts_against_its_own_code_only(app, mailbox):
    """Bug caught: the claim of a guess without the code's id: a wrong guess at one address used up
    the tries of every live code."""
    app.config["VERIFICATION_SEND_LIMITS"] = "20/minute"
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"}):
        send_code("verify_email", EMAIL)
        send_code("verify_email", "other@example.com")
        other = mailbox.last_code("other@example.com")
        for _ in range(5):
            with pytest.raises(InvalidCode):
                check_code("verify_email", EMAIL, wrong(mailbox.last_code(EMAIL)))

        check_code("verify_email", "other@example.com", other)
        attempts = dict(db.session.execute(sa.select(VerificationCode.destination, VerificationCode.attempts)).all())
        assert attempts == {EMAIL: 5, "other@example.com": 1}


def test_of_two_submits_of_one_code_racing_exactly_one_wins(app, mailbox, monkeypatch):
    """Bug caught: accepting a code without checking it is still unused when it is marked used: two
    requests carrying the same code, interleaved, both went through (two password resets, two
    bindings with one code). The second submit runs while the first is between its check and its
    use of the code."""
    import hmac

    from portal.verification import services

    with app.test_request_context():
        send_code("verify_email", EMAIL)
    code = mailbox.last_code(EMAIL)
    outcomes = []
    real_compare = hmac.compare_digest

    def submit():
        with app.app_context():
            try:
                check_code("verify_email", EMAIL, code)
                outcomes.append("accepted")
            except InvalidCode as exc:
                outcomes.append(exc.message)
            finally:
                db.session.remove()

    def compare_while_another_submits(a, b):
        if not outcomes:
            monkeypatch.setattr(services.hmac, "compare_digest", real_compare)
            other = threading.Thread(target=submit)
            other.start()
            other.join()
        return real_compare(a, b)

    monkeypatch.setattr(services.hmac, "compare_digest", compare_while_another_submits)
    submit()

    assert outcomes[0] == "accepted"
    assert len(outcomes) == 2 and "已使用" in outcomes[1]


@pytest.mark.parametrize("purpose, zh, en, valid", [
    ("sign_up", "注册", "signing up", 10),
    # 验证码登录: a code that alone opens an account is short-lived.
    ("sign_in", "登录", "signing in", 5),
    ("verify_email", "绑定邮箱", "binding an email", 10),
    ("verify_phone", "绑定手机", "binding a phone", 10),
    ("change_password", "修改密码", "changing the password", 10),
    ("reset_password", "找回密码", "resetting the password", 10),
])
def test_every_message_says_what_the_code_is_for_and_how_long_it_is_valid(app, mailbox, purpose, zh, en, valid):
    for language, words, minutes in (("zh-CN", zh, f"{valid} 分钟"), ("en", en, f"{valid} minutes")):
        with app.test_request_context(headers={"Accept-Language": language}):
            send_code(purpose, f"{language.lower()}.{purpose}@example.com")
        message = mailbox.to(f"{language.lower()}.{purpose}@example.com")[-1]
        assert words in message["subject"] and words in message["body"] and minutes in message["body"]


def test_a_purpose_without_words_still_gets_a_message_with_its_validity(app, mailbox):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        send_code("plugin.payout", "ivan@example.com")
    message = mailbox.to("ivan@example.com")[-1]
    assert message["subject"] == "Portal verification code" and "valid for 10 minutes" in message["body"]


def test_a_sign_in_code_expires_sooner(app, mailbox):
    with app.test_request_context():
        send_code("sign_in", "+8613800138000")
        row = db.session.scalar(db.select(VerificationCode).filter_by(purpose="sign_in"))
        assert row.expires_at - row.created_at == timedelta(minutes=5)


def test_a_message_may_name_another_purpose_than_the_codes_own(app, mailbox):
    """The email code of a sign-up is stored for binding the email but named for signing up."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        send_code("verify_email", "una@example.com", shown_as="sign_up")
        check_code("verify_email", "una@example.com", mailbox.last_code("una@example.com"))
    assert "signing up" in mailbox.to("una@example.com")[-1]["subject"]


def test_messages_carry_the_sites_name(app, mailbox):
    app.config["SITE_NAME"] = "Acme Cloud"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        send_code("verify_email", "vera@example.com")
    message = mailbox.to("vera@example.com")[-1]
    assert message["subject"].startswith("Acme Cloud verification code") and "Your Acme Cloud" in message["body"]


def test_codes_are_drawn_from_all_a_million_values(app, mailbox):
    """Bug caught: a code drawn from a few values (10 * 6 instead of 10 ** 6): anyone could guess it."""
    codes = []
    for n in range(20):
        with app.test_request_context():
            send_code("verify_email", f"w{n}@example.com")
        codes.append(int(mailbox.last_code(f"w{n}@example.com")))
    # Twenty draws all below 1,000 happen with probability 10^-60 when every value is possible.
    assert max(codes) >= 1000 and len(set(codes)) > 1
