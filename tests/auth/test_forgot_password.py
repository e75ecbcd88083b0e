"""Forgot password: a code to a verified email or phone, the same answer whether or not an account
exists, and a reset that signs the user out everywhere."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.passwords import verify_password
from portal.testing.plugin import DEFAULT_PASSWORD
from portal.users.models import User

NEW_PASSWORD = "a brand new passphrase"
SAME_ANSWER = "如果存在使用"


def ask_for_code(client, contact):
    return client.submit("/auth/forgot-password", {"contact": contact}, follow_redirects=True)


def reset(client, code, password=NEW_PASSWORD, confirm=None):
    return client.submit(
        "/auth/reset-password",
        {"code": code, "password": password, "confirm": password if confirm is None else confirm},
    )


def password_hash(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).password_hash


def has_password(app, user_id, password) -> bool:
    with app.app_context():
        return verify_password(db.session.get(User, user_id).password_hash, password)


def test_reset_by_email_code(app, client, users, mailbox):
    user_id = users.create("alice", email="alice@example.com")
    page = ask_for_code(client, "Alice@Example.com")
    assert page.status_code == 200 and SAME_ANSWER in page.get_data(as_text=True)
    code = mailbox.last_code("alice@example.com")
    response = reset(client, code)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/sign-in"
    assert has_password(app, user_id, NEW_PASSWORD)
    users.sign_in(client, "alice", NEW_PASSWORD)


def test_reset_by_phone_code(app, client, users, mailbox):
    user_id = users.create("alice")
    with app.app_context():
        user = db.session.get(User, user_id)
        user.phone, user.phone_verified_at = "+8613800138000", user.created_at
        db.session.commit()
    ask_for_code(client, "138 0013 8000")
    code = mailbox.last_code("+8613800138000")
    assert reset(client, code).status_code == 302
    assert has_password(app, user_id, NEW_PASSWORD)


def test_the_answer_is_the_same_for_unknown_unverified_and_known_contacts(client, users, mailbox):
    users.create("alice", email="alice@example.com")
    users.create("bob", email="bob@example.com", verified=False)
    answers = []
    for contact in ("alice@example.com", "bob@example.com", "nobody@example.com", "+8613900139000"):
        page = ask_for_code(client, contact)
        html = page.get_data(as_text=True)
        answers.append((page.status_code, SAME_ANSWER in html, "/auth/reset-password" in html))
    assert set(answers) == {(200, True, True)}
    assert mailbox.to("alice@example.com")
    for nobody in ("bob@example.com", "nobody@example.com", "+8613900139000"):
        assert not mailbox.to(nobody)


def test_a_reset_signs_out_every_session(app, client, users, mailbox):
    users.create("alice", email="alice@example.com")
    laptop = app.test_client()
    users.sign_in(laptop, "alice")
    ask_for_code(client, "alice@example.com")
    reset(client, mailbox.last_code("alice@example.com"))
    assert laptop.get("/auth/sign-in").status_code == 200


@pytest.mark.parametrize("contact, message", [("", "请输入账号绑定的邮箱或手机号"),
                                              ("not a phone", "请输入账号绑定的邮箱或手机号"),
                                              ("a@b@c", "请输入账号绑定的邮箱或手机号"),
                                              ("x" * 10000, "请输入账号绑定的邮箱或手机号")])
def test_bad_contacts_are_form_errors(client, contact, message):
    response = client.submit("/auth/forgot-password", {"contact": contact})
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_wrong_used_or_other_purpose_codes_change_nothing(app, client, users, mailbox):
    user_id = users.create("alice", email="alice@example.com")
    before = password_hash(app, user_id)
    ask_for_code(client, "alice@example.com")
    code = mailbox.last_code("alice@example.com")
    wrong = "000000" if code != "000000" else "111111"
    response = reset(client, wrong)
    assert response.status_code == 400 and "验证码" in response.get_data(as_text=True)
    assert reset(client, code).status_code == 302
    after = password_hash(app, user_id)
    assert after != before

    client.get("/auth/forgot-password")
    with client.session_transaction() as session:
        session["reset_destination"] = "alice@example.com"
    response = reset(client, code, password="yet another passphrase")
    assert response.status_code == 400
    assert password_hash(app, user_id) == after


def test_a_code_for_another_user_does_not_work(app, client, users, mailbox):
    users.create("alice", email="alice@example.com")
    bob = users.create("bob", email="bob@example.com")
    before = password_hash(app, bob)
    ask_for_code(client, "alice@example.com")
    alice_code = mailbox.last_code("alice@example.com")
    with client.session_transaction() as session:
        session["reset_destination"] = "bob@example.com"
    assert reset(client, alice_code).status_code == 400
    assert password_hash(app, bob) == before


@pytest.mark.parametrize(
    "password, confirm, message",
    [("short", None, "至少需要 8 个字符"), ("iloveyou", None, "该密码过于常见"),
     (NEW_PASSWORD, "different passphrase", "两次输入的密码不一致"), ("alice", None, "至少需要 8 个字符")],
)
def test_a_bad_new_password_is_a_form_error_and_keeps_the_code(app, client, users, mailbox, password, confirm,
                                                                message):
    user_id = users.create("alice", email="alice@example.com")
    before = password_hash(app, user_id)
    ask_for_code(client, "alice@example.com")
    code = mailbox.last_code("alice@example.com")
    response = reset(client, code, password, confirm)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert password_hash(app, user_id) == before
    assert reset(client, code).status_code == 302


def test_the_reset_page_needs_a_request_first(client):
    response = client.get("/auth/reset-password")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/forgot-password"


def test_requests_are_limited_per_contact(client, users):
    users.create("alice", email="alice@example.com")
    for _ in range(5):
        ask_for_code(client, "nobody@example.com")
    response = client.submit("/auth/forgot-password", {"contact": "nobody@example.com"})
    assert response.status_code == 400 and "尝试次数过多" in response.get_data(as_text=True)


def test_asking_again_at_once_gets_the_same_answer_and_the_first_code_still_works(app, client, users, mailbox):
    user_id = users.create("alice", email="alice@example.com")
    ask_for_code(client, "alice@example.com")
    code = mailbox.last_code("alice@example.com")
    page = ask_for_code(client, "alice@example.com")  # within the provider's one-a-minute limit
    assert page.status_code == 200 and SAME_ANSWER in page.get_data(as_text=True)
    assert reset(client, code).status_code == 302
    assert has_password(app, user_id, NEW_PASSWORD)
