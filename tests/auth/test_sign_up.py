"""Signing up: the form, its clear errors, and that bad input creates nothing."""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from portal.accounts.models import Account
from portal.extensions import db
from portal_devkit.testing.plugin import DEFAULT_PASSWORD
from portal.users.models import Email, User


def sign_up(client, username="alice", email="alice@example.com", password=DEFAULT_PASSWORD, confirm=None):
    return client.submit(
        "/auth/sign-up",
        {"username": username, "email": email, "password": password,
         "confirm": password if confirm is None else confirm},
    )


def users_in_database(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def test_sign_up_page_explains_the_username_alphabet(client):
    html = client.get("/auth/sign-up").get_data(as_text=True)
    assert "3-32 个字符" in html and 'name="confirm"' in html


def test_sign_up_creates_the_user_signs_them_in_and_sends_the_email_code(app, client, mailbox):
    response = sign_up(client)
    assert response.status_code == 302 and response.headers["Location"] == "/user/emails"
    assert client.get("/auth/sign-in").status_code == 302
    page = client.get("/user/emails").get_data(as_text=True)
    # Also catches: a code that went out reported as not sent (the welcome would not ask for it).
    assert "alice@example.com" in page and "请在用户中心验证您的邮箱" not in page
    code = mailbox.last_code("alice@example.com")
    with app.app_context():
        email_id = db.session.scalar(sa.select(Email.id))
    client.submit(f"/user/emails/{email_id}/verify", {"code": code}, page="/user/emails")
    with app.app_context():
        assert db.session.get(Email, email_id).is_verified
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "alice"))
        assert user.primary_email.address == "alice@example.com"
        assert db.session.scalar(sa.select(Account).where(Account.user_id == user.id)) is not None


def test_the_sign_up_code_says_it_is_for_signing_up(app, client, mailbox):
    """Bug caught: the first code after signing up named as one for binding an email (or for
    nothing): a new user could take it for someone else's doing."""
    from flask_babel import force_locale

    from portal.verification import purposes

    sign_up(client)
    message = mailbox.to("alice@example.com")[-1]
    with app.test_request_context(), force_locale(app.config["BABEL_DEFAULT_LOCALE"]):
        signing_up, binding = purposes.label("sign_up"), purposes.label("verify_email")
    assert signing_up in message["subject"] + message["body"]
    assert binding not in message["subject"] + message["body"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"username": ""}, "请输入用户名"),
        ({"username": "x" * 10000}, "用户名最多 32 个字符"),
        ({"username": "ab"}, "用户名至少需要 3 个字符"),
        ({"username": "al\x00ice"}, "NUL"),
        ({"username": "аlice"}, "用户名必须以英文字母开头"),  # Cyrillic а
        ({"username": "alicе"}, "用户名只能包含"),  # Cyrillic е at the end
        ({"username": "张三丰"}, "用户名必须以英文字母开头"),
        ({"email": ""}, "请输入邮箱地址"),
        ({"email": "a@b@example.com"}, "请输入有效的邮箱地址"),
        ({"email": "alice.example.com"}, "请输入有效的邮箱地址"),
        ({"email": "a" * 250 + "@example.com"}, "邮箱地址最多 254 个字符"),
        ({"email": "x" * 10000}, "邮箱地址最多 254 个字符"),
        ({"email": "alice\x00@example.com"}, "NUL"),
        ({"password": ""}, "请输入密码"),
        ({"password": "short"}, "至少需要 8 个字符"),
        ({"password": "p" * 10000}, "最多 1024 个字符"),
        ({"password": "iloveyou"}, "该密码过于常见"),
        ({"password": "Password1"}, "该密码过于常见"),
        ({"username": "alicealice", "password": "alicealice"}, "密码不能与用户名相同"),
        ({"confirm": "something else entirely"}, "两次输入的密码不一致"),
    ],
)
def test_bad_input_is_a_clear_form_error_and_creates_nothing(app, client, fields, message):
    data = {"username": "alice", "email": "alice@example.com", "password": DEFAULT_PASSWORD}
    data.update(fields)
    data.setdefault("confirm", data["password"])
    response = client.submit("/auth/sign-up", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert users_in_database(app) == 0


def test_leading_and_trailing_spaces_are_trimmed_from_username_and_email(app, client):
    assert sign_up(client, username="  alice  ", email=" alice@example.com ").status_code == 302
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert (user.username, user.primary_email.address) == ("alice", "alice@example.com")


def test_full_width_letters_count_as_their_ascii_twins(app, client, users):
    users.create("alice")
    response = sign_up(client, username="ＡＬＩＣＥ", email="other@example.com")
    assert response.status_code == 400 and "该用户名已被使用" in response.get_data(as_text=True)


def test_a_taken_username_is_refused_whatever_the_case(app, client, users):
    users.create("alice", email="alice@example.com")
    response = sign_up(client, username="Alice", email="new@example.com")
    assert "该用户名已被使用" in response.get_data(as_text=True)
    assert users_in_database(app) == 1


def test_a_taken_email_gets_the_same_answer_and_its_owner_is_told(app, client, users, mailbox):
    users.create("alice", email="alice@example.com")
    taken = sign_up(client, username="bob", email="ALICE@EXAMPLE.COM")
    free = sign_up(app.test_client(), username="carol", email="carol.new@example.com")
    assert taken.status_code == free.status_code == 302
    assert taken.headers["Location"] == free.headers["Location"] == "/user/emails"
    # The code went to the address, with a word to its owner; bob holds only an unverified claim.
    assert "有人尝试将您的邮箱地址 alice@example.com 用于另一个账号" in mailbox.notices("alice@example.com")[-1]["body"]
    with app.app_context():
        owner = db.session.scalar(sa.select(Email).where(Email.address_key == "alice@example.com",
                                                         Email.verified_at.is_not(None)))
        assert owner.user.username == "alice"


def test_sign_up_without_csrf_is_refused(app, client):
    response = client.post("/auth/sign-up", data={"username": "alice", "email": "alice@example.com",
                                                  "password": DEFAULT_PASSWORD, "confirm": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert users_in_database(app) == 0


def test_sign_ups_are_limited_per_ip(app, client):
    for n in range(20):
        visitor = app.test_client()  # every visitor from the same address
        assert sign_up(visitor, username=f"user{n}", email=f"user{n}@example.com").status_code == 302
    response = sign_up(client, username="onemore", email="onemore@example.com")
    assert response.status_code == 400 and "尝试次数过多" in response.get_data(as_text=True)
    assert users_in_database(app) == 20


@pytest.fixture
def no_email_delivery(portal_config):
    portal_config["PLUGINS_DISABLED"] = ("smtp",)
    return portal_config


def test_a_code_that_cannot_be_delivered_does_not_undo_the_sign_up(no_email_delivery, app, client, caplog):
    """Also catches: the operator's warning without the new user or the reason."""
    client.get("/auth/sign-up")
    with caplog.at_level(logging.WARNING, logger="portal.auth.services"):
        response = sign_up(client)
    response = client.get(response.headers["Location"])
    assert response.status_code == 200
    assert "请在用户中心验证您的邮箱" in response.get_data(as_text=True)
    assert users_in_database(app) == 1
    with app.app_context():
        user_id = db.session.scalar(db.select(User.id))
    [warning] = [r.getMessage() for r in caplog.records if r.name == "portal.auth.services"]
    assert warning.startswith(f"verification code for new user {user_id} not sent: ")
    assert not warning.endswith(": None")
