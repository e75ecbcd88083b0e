"""Forgot password: a code to a verified email or phone, the same answer whether or not an account
exists, and a reset that signs the user out everywhere."""
from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from portal.extensions import db
from portal.passwords import verify_password
from portal_devkit.testing.plugin import DEFAULT_PASSWORD
from portal.timeutil import utcnow
from portal.users.models import User

NEW_PASSWORD = "a brand new passphrase"
SAME_ANSWER = "如果存在使用"
RESTING = "发送新的验证码：获取验证码过于频繁。请在"


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
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/sign-in?next=/user/security-review"
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
    # The sandbox's mailbox lives as long as the test session: count what arrives from here on.
    before = {nobody: len(mailbox.to(nobody)) for nobody in ("bob@example.com", "nobody@example.com", "+8613900139000")}
    answers = []
    for contact in ("alice@example.com", "bob@example.com", "nobody@example.com", "+8613900139000"):
        page = ask_for_code(client, contact)
        html = page.get_data(as_text=True)
        answers.append((page.status_code, SAME_ANSWER in html, "/auth/reset-password" in html))
    assert set(answers) == {(200, True, True)}
    assert mailbox.to("alice@example.com")
    for nobody, count in before.items():
        assert len(mailbox.to(nobody)) == count


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


def test_asking_again_at_once_says_no_new_code_went_and_the_first_code_still_works(app, client, users, mailbox):
    user_id = users.create("alice", email="alice@example.com")
    ask_for_code(client, "alice@example.com")
    code = mailbox.last_code("alice@example.com")
    sent = len(mailbox.to("alice@example.com"))
    page = ask_for_code(client, "alice@example.com")  # within the one-a-minute limit of codes
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and SAME_ANSWER not in html and RESTING in html
    assert 'id="reset-no-new-code"' in html and "发送至" not in html
    assert len(mailbox.to("alice@example.com")) == sent
    assert reset(client, code).status_code == 302
    assert has_password(app, user_id, NEW_PASSWORD)


def _resting_answer(client, contact) -> str:
    """The page after asking twice for ``contact``, with the address and the wait taken out."""
    ask_for_code(client, contact)
    html = ask_for_code(client, contact).get_data(as_text=True)
    assert RESTING in html and SAME_ANSWER not in html and "发送至" not in html
    notice = html.split(RESTING)[0].rsplit(">", 1)[1] + RESTING + html.split(RESTING)[1].split("<", 1)[0]
    wait = re.search(r"请在 (\d+) 秒后重新获取", notice)
    assert wait and 0 < int(wait.group(1)) <= 60, notice
    return notice.replace(contact, "<contact>").replace(wait.group(1), "<n>")


def test_a_resting_destination_is_told_when_to_ask_again_the_same_way_for_every_address(app, users, mailbox):
    users.create("alice", email="alice@example.com")
    users.create("bob", email="bob@example.com", verified=False)
    before = len(mailbox.to("alice@example.com"))
    answers = {_resting_answer(app.test_client(), contact)
               for contact in ("alice@example.com", "bob@example.com", "nobody@example.com")}
    assert len(answers) == 1, answers
    assert len(mailbox.to("alice@example.com")) == before + 1


def test_the_wait_counts_for_unknown_addresses_as_for_known_ones(app):
    from portal.auth import services

    with app.app_context():
        first = services.request_password_reset("nobody@example.com", "198.51.100.1")
        again = services.request_password_reset("NOBODY@example.com", "198.51.100.2")
    assert first == services.ResetRequest("nobody@example.com")
    assert again.destination == "NOBODY@example.com" and 0 < again.retry_after <= 60


def test_a_secondary_email_cannot_reset_the_password(app, client, users, mailbox):
    from portal.users.models import Email, User

    user_id = users.create("sec", email="sec@example.com")
    with app.app_context():
        user = db.session.get(User, user_id)
        user.emails.append(Email(address="sec.second@example.com", address_key="sec.second@example.com",
                                 verified_at=utcnow()))
        db.session.commit()
    before = len(mailbox.to("sec.second@example.com"))
    response = client.submit("/auth/forgot-password", {"contact": "sec.second@example.com"})
    assert response.status_code == 302  # the same answer as for any address
    assert len(mailbox.to("sec.second@example.com")) == before


def _request(app, contact, ip):
    """``request_password_reset`` as the form calls it: "ok", or "too many"."""
    from portal.auth import services

    with app.app_context():
        try:
            services.request_password_reset(contact, ip)
        except services.SignInError as exc:
            assert exc.message == services.too_many_attempts().message
            return "too many"
        return "ok"


def test_reset_requests_are_limited_per_address_not_for_the_whole_site(app, users, mailbox):
    """Bug caught: the per-contact limit keyed on something shared: five requests for one address
    blocked password resets for every user."""
    from portal.auth import ratelimits

    users.create("bob", email="bob@example.com")
    limit = int(ratelimits.LIMITS["reset_password_contact"].split("/")[0])
    for n in range(limit):
        assert _request(app, "Alice@Example.com", f"198.51.100.{n + 1}") == "ok"
    assert _request(app, "alice@example.com", "198.51.100.99") == "too many"

    assert _request(app, "bob@example.com", "198.51.100.99") == "ok"
    assert len(mailbox.to("bob@example.com")) == 1


def test_reset_requests_are_limited_per_ip(app):
    """Bug caught: the per-IP limit of reset requests removed: one address could probe or flood
    every contact."""
    from portal.auth import ratelimits

    limit = int(ratelimits.LIMITS["reset_password_ip"].split("/")[0])
    for n in range(limit):
        assert _request(app, f"someone{n}@example.com", "198.51.100.7") == "ok"

    assert _request(app, "another@example.com", "198.51.100.7") == "too many"
    assert _request(app, "another@example.com", "198.51.100.8") == "ok"


def test_confirming_resets_is_limited_per_ip(app, users, mailbox):
    """Bug caught: the per-IP limit of reset confirmations removed: codes could be guessed from one
    address across many contacts (each code's own five tries never reached)."""
    from portal.auth import ratelimits, services

    user_id = users.create("alice", email="alice@example.com")
    assert _request(app, "alice@example.com", "198.51.100.20") == "ok"
    code = mailbox.last_code("alice@example.com")
    limit = int(ratelimits.LIMITS["reset_password_confirm_ip"].split("/")[0])
    with app.app_context():
        too_many = services.too_many_attempts().message
        for n in range(limit):
            with pytest.raises(services.SignInError) as wrong:
                services.reset_password(f"nobody{n}@example.com", "123456", NEW_PASSWORD, "198.51.100.21")
            assert wrong.value.message != too_many
        with pytest.raises(services.SignInError) as refused:
            services.reset_password("alice@example.com", code, NEW_PASSWORD, "198.51.100.21")
        assert refused.value.message == too_many
        assert services.reset_password("alice@example.com", code, NEW_PASSWORD, "198.51.100.22").id == user_id
    assert has_password(app, user_id, NEW_PASSWORD)


def test_a_reset_refuses_the_username_as_the_new_password_and_keeps_the_code(app, users, mailbox):
    """Bug caught: the password policy at reset checked without the username (only the first,
    anonymous check ran): the username became the password."""
    from portal.auth import services

    user_id = users.create("mallory-the-user", email="mallory@example.com")
    assert _request(app, "mallory@example.com", "198.51.100.30") == "ok"
    code = mailbox.last_code("mallory@example.com")
    with app.app_context(), force_locale("en"):
        with pytest.raises(ValueError, match="must not be the username"):
            services.reset_password("mallory@example.com", code, "Mallory-The-User", "198.51.100.30")
    assert has_password(app, user_id, DEFAULT_PASSWORD)

    with app.app_context():
        services.reset_password("mallory@example.com", code, NEW_PASSWORD, "198.51.100.30")
    assert has_password(app, user_id, NEW_PASSWORD)
    assert "mallory@example.com" in [m["to"] for m in mailbox.notices("mallory@example.com")]

