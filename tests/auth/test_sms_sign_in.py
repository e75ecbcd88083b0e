"""验证码登录: a code sent by SMS to the bound phone signs in, with the answers and limits of the
password form, and two-factor sign-in still asks for its second factor."""
from __future__ import annotations

import re

import pytest

from portal.extensions import db
from portal.users.models import User
from portal.verification.models import VerificationCode

PHONE = "+8613800138000"
NOBODY = "+8613900139000"
SAME_WRONG_CODE = "验证码错误或已过期，请重新获取。"


def bind_phone(app, user_id, phone=PHONE):
    with app.app_context():
        user = db.session.get(User, user_id)
        user.phone, user.phone_verified_at = phone, user.created_at
        db.session.commit()


def send_code(client, phone, **headers):
    return client.submit("/auth/sign-in/sms", {"phone": phone, "action": "send"}, headers=headers)


def enter_code(client, phone, code, **extra):
    return client.submit("/auth/sign-in/sms", {"phone": phone, "code": code, "action": "sign_in", **extra})


def is_signed_in(client) -> bool:
    return client.get("/user/profile").status_code == 200


@pytest.fixture
def alice(app, users):
    user_id = users.create("alice", email="alice@example.com")
    bind_phone(app, user_id)
    return user_id


def test_the_sign_in_page_offers_both_ways(client):
    html = client.get("/auth/sign-in").get_data(as_text=True)
    assert "密码登录" in html and 'href="/auth/sign-in/sms"' in html
    page = client.get("/auth/sign-in/sms").get_data(as_text=True)
    assert "验证码登录" in page and 'name="phone"' in page and 'name="csrf_token"' in page
    assert 'value="send"' in page and "js/users.js" in page and "<script>" not in page
    # Third-party sign-in sits under both tabs.
    assert 'action="/identities/github/sign-in"' in html and 'action="/identities/github/sign-in"' in page


def test_sign_in_by_code(app, client, alice, mailbox):
    answer = send_code(client, "138 0013 8000")
    assert answer.status_code == 200 and "138****8000" in answer.get_data(as_text=True)
    message = mailbox.to(PHONE)[-1]
    assert "登录" in message["body"] and "5分钟" in message["body"].replace(" ", "")
    response = enter_code(client, "13800138000", mailbox.last_code(PHONE))
    assert response.status_code == 302 and response.headers["Location"] == "/user/profile"
    assert is_signed_in(client)
    with app.app_context():
        row = db.session.scalar(db.select(VerificationCode).filter_by(purpose="sign_in", destination=PHONE))
        assert row.used_at is not None and row.user_id == alice
        # Stored as an HMAC, never the code itself.
        assert mailbox.last_code(PHONE) not in row.code_hash


def test_a_code_works_once(client, alice, mailbox):
    send_code(client, PHONE)
    code = mailbox.last_code(PHONE)
    assert enter_code(client, PHONE, code).status_code == 302
    client.post("/auth/sign-out", data={"csrf_token": client.csrf_token("/user/profile")})
    assert not is_signed_in(client)
    again = enter_code(client, PHONE, code)
    assert again.status_code == 400 and SAME_WRONG_CODE in again.get_data(as_text=True)


def test_the_send_button_answers_in_json(client, alice, mailbox):
    answer = send_code(client, PHONE, Accept="application/json")
    assert answer.status_code == 200 and answer.json["ok"] is True and "138****8000" in answer.json["message"]


def test_unknown_phone_gets_the_same_answer_and_no_code_when_sign_up_is_off(app, client, alice, mailbox):
    app.config["SIGNUP_BY_PHONE"] = False
    before = len(mailbox.to(NOBODY))
    answers = []
    for phone in (PHONE, NOBODY):
        page = send_code(client, phone).get_data(as_text=True)
        page = page.replace("138****8000", "X").replace("139****9000", "X").replace(PHONE, "P").replace(NOBODY, "P")
        answers.append(re.sub(r'name="csrf_token"[^>]*>', "", page.split("<main", 1)[-1]))
    assert answers[0] == answers[1]
    assert "如果存在使用 X 的账号，我们已向其发送验证码。" in answers[0]
    assert len(mailbox.to(NOBODY)) == before
    wrong = enter_code(client, NOBODY, "123456")
    assert wrong.status_code == 400 and SAME_WRONG_CODE in wrong.get_data(as_text=True)


def test_disabled_and_unverified_phones_get_no_code(app, client, users, mailbox):
    carol = users.create("carol")
    bind_phone(app, carol, NOBODY)
    with app.app_context():
        db.session.execute(db.update(User).where(User.id == carol).values(is_active=False))
        db.session.commit()
    app.config["SIGNUP_BY_PHONE"] = False
    before = len(mailbox.to(NOBODY))
    assert send_code(client, NOBODY).status_code == 200
    assert len(mailbox.to(NOBODY)) == before


def test_wrong_expired_and_missing_codes_read_the_same(app, client, alice, mailbox):
    send_code(client, PHONE)
    code = mailbox.last_code(PHONE)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    answers = set()
    response = enter_code(client, PHONE, wrong)
    answers.add((response.status_code, SAME_WRONG_CODE in response.get_data(as_text=True)))
    with app.app_context():
        db.session.execute(db.update(VerificationCode).values(expires_at=VerificationCode.created_at))
        db.session.commit()
    response = enter_code(client, PHONE, code)
    answers.add((response.status_code, SAME_WRONG_CODE in response.get_data(as_text=True)))
    app.config["SIGNUP_BY_PHONE"] = False
    response = enter_code(client, NOBODY, code)
    answers.add((response.status_code, SAME_WRONG_CODE in response.get_data(as_text=True)))
    assert answers == {(400, True)}
    assert not is_signed_in(client)
    from portal.security_log.models import SecurityEvent

    with app.app_context():
        failed = db.session.scalars(db.select(SecurityEvent).filter_by(user_id=alice, kind="sign_in_failed")).all()
        assert [event.details["method"] for event in failed] == ["sms_code", "sms_code"]


def test_codes_to_one_phone_are_limited(client, alice, mailbox):
    assert send_code(client, PHONE).status_code == 200
    before = len(mailbox.to(PHONE))
    resting = send_code(client, PHONE)
    assert resting.status_code == 200 and "获取验证码过于频繁" in resting.get_data(as_text=True)
    assert len(mailbox.to(PHONE)) == before
    json = send_code(client, PHONE, Accept="application/json")
    assert json.json["ok"] is False


def test_wrong_codes_are_limited_per_phone(app, client, alice, mailbox):
    send_code(client, PHONE)
    code = mailbox.last_code(PHONE)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    # Every other client: a new IP each time, as a spread-out guesser would be.
    for attempt in range(10):
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = f"198.51.100.{attempt + 1}"
        assert enter_code(other, PHONE, wrong).status_code == 400
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.200"
    refused = enter_code(other, PHONE, code)
    assert refused.status_code == 400 and "尝试次数过多" in refused.get_data(as_text=True)
    assert not is_signed_in(other)


def test_wrong_codes_are_limited_per_ip(app, client, users, mailbox):
    for attempt in range(10):
        phone = f"+86139001390{attempt:02d}"
        assert enter_code(client, phone, "123456").status_code == 400
    refused = enter_code(client, "+8613900139050", "123456")
    assert "尝试次数过多" in refused.get_data(as_text=True)


def test_a_bad_phone_is_a_form_error(client):
    for phone in ("", "12", "alice@example.com", "1" * 40):
        response = send_code(client, phone)
        assert response.status_code == 400 and "invalid-feedback" in response.get_data(as_text=True)


def test_post_without_csrf_is_refused(client, alice):
    response = client.post("/auth/sign-in/sms", data={"phone": PHONE, "action": "send"})
    assert response.status_code == 400


def test_two_factor_is_still_asked(app, client, alice, mailbox):
    from tests.mfa.conftest import enrol

    authenticator, _codes = enrol(app, alice)
    send_code(client, PHONE)
    response = enter_code(client, PHONE, mailbox.last_code(PHONE), next="/user/emails")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/two-factor"
    assert not is_signed_in(client)
    done = client.submit("/auth/two-factor", {"code": authenticator.code(1)})
    assert done.status_code == 302 and done.headers["Location"] == "/user/emails"
    assert is_signed_in(client)


def test_asking_for_codes_is_limited_per_ip(client, mailbox):
    for n in range(10):
        assert send_code(client, f"+86135001350{n:02d}").status_code == 200
    refused = send_code(client, "+8613500135099")
    assert refused.status_code == 400 and "尝试次数过多" in refused.get_data(as_text=True)
    assert not mailbox.to("+8613500135099")


def test_a_right_code_clears_the_wrong_guesses_of_the_phone(app, client, alice, mailbox):
    app.config["VERIFICATION_SEND_LIMITS"] = "10/minute"
    send_code(client, PHONE)
    code = mailbox.last_code(PHONE)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for attempt in range(4):
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = f"198.51.100.{attempt + 1}"
        assert enter_code(other, PHONE, wrong).status_code == 400
    assert enter_code(client, PHONE, code).status_code == 302
    # Nine more wrong guesses would have crossed the phone's limit of ten had the four still counted.
    for attempt in range(9):
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = f"198.51.100.{attempt + 50}"
        answer = enter_code(other, PHONE, "000000" if code != "000000" else "111111")
        assert "尝试次数过多" not in answer.get_data(as_text=True)
