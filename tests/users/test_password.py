import pytest

from portal.extensions import db
from portal.passwords import verify_password
from portal_devkit.testing.plugin import DEFAULT_PASSWORD
from portal.users.models import User

from .conftest import give_phone, page_errors

NEW_PASSWORD = "a brand new passphrase 42"


def password_is(app, user_id, password) -> bool:
    with app.app_context():
        return verify_password(db.session.get(User, user_id).password_hash, password)


def _change(client, mailbox, destination, channel="email", old=DEFAULT_PASSWORD, new=NEW_PASSWORD):
    fields = {"old_password": old, "new_password": new, "channel": channel}
    response = client.submit("/user/password", {**fields, "action": "send"})
    assert response.status_code == 200, page_errors(response)
    return client.submit("/user/password", {**fields, "code": mailbox.last_code(destination), "action": "confirm"})


def test_change_password_with_a_code_to_the_primary_email(app, me, users, mailbox):
    other_device = app.test_client()
    users.sign_in(other_device, "alice")

    response = _change(me, mailbox, "alice@example.com")

    assert response.status_code == 302
    assert password_is(app, me.user_id, NEW_PASSWORD)
    # This browser stays signed in; the other device is signed out.
    assert me.get("/user/password").status_code == 200
    assert other_device.get("/user/password").status_code == 302
    users.sign_in(app.test_client(), "alice", NEW_PASSWORD)


def test_change_password_with_a_code_to_the_phone(app, me, mailbox, new_phone):
    typed, e164 = new_phone()
    give_phone(app, me.user_id, e164)
    page = me.get("/user/password").get_data(as_text=True)
    assert f"{typed[:3]}****{typed[-4:]}" in page

    response = _change(me, mailbox, e164, channel="phone")
    assert response.status_code == 302
    assert password_is(app, me.user_id, NEW_PASSWORD)


def test_the_code_goes_only_where_the_user_picked(me, mailbox):
    before = len(mailbox.to("alice@example.com"))
    response = me.submit("/user/password", {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD,
                                            "channel": "phone", "action": "send"})
    assert response.status_code == 400  # no phone bound
    assert len(mailbox.to("alice@example.com")) == before


@pytest.mark.parametrize("old, new, problem", [
    ("wrong password!", NEW_PASSWORD, "current password"),
    ("", NEW_PASSWORD, "current password"),
    (DEFAULT_PASSWORD, "short", None),
    (DEFAULT_PASSWORD, "password123", None),
    (DEFAULT_PASSWORD, "x" * 10_000, None),
    (DEFAULT_PASSWORD, DEFAULT_PASSWORD, None),
])
def test_bad_passwords_are_refused_before_any_code_is_sent(app, me, mailbox, old, new, problem):
    before = len(mailbox.messages)
    response = me.submit("/user/password", {"old_password": old, "new_password": new, "channel": "email",
                                            "action": "send"})
    assert response.status_code == 400
    errors = page_errors(response)
    assert errors and (problem is None or problem in errors.lower())
    assert len(mailbox.messages) == before
    assert password_is(app, me.user_id, DEFAULT_PASSWORD)


def test_a_wrong_or_missing_code_changes_nothing(app, me, mailbox):
    fields = {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "channel": "email"}
    me.submit("/user/password", {**fields, "action": "send"})
    code = mailbox.last_code("alice@example.com")
    for wrong in ("", "000000" if code != "000000" else "111111", "12ab56", "1" * 10_000):
        response = me.submit("/user/password", {**fields, "code": wrong, "action": "confirm"})
        assert response.status_code == 400
        assert page_errors(response)
    assert password_is(app, me.user_id, DEFAULT_PASSWORD)


def test_a_code_is_used_once(app, me, mailbox):
    _change(me, mailbox, "alice@example.com")
    fields = {"old_password": NEW_PASSWORD, "new_password": "yet another passphrase 7", "channel": "email",
              "code": mailbox.last_code("alice@example.com"), "action": "confirm"}
    response = me.submit("/user/password", fields)
    assert response.status_code == 400
    assert password_is(app, me.user_id, NEW_PASSWORD)


def test_a_code_sent_for_another_purpose_does_not_change_the_password(app, me, mailbox):
    from portal.verification.services import send_code

    with app.test_request_context():
        send_code("verify_email", "alice@example.com", user_id=me.user_id)
    response = me.submit("/user/password", {
        "old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "channel": "email",
        "code": mailbox.last_code("alice@example.com"), "action": "confirm"})
    assert response.status_code == 400
    assert password_is(app, me.user_id, DEFAULT_PASSWORD)


def test_an_unverified_primary_email_cannot_receive_the_code(app, users):
    users.create("frank", verified=False)
    client = app.test_client()
    users.sign_in(client, "frank")
    html = client.get("/user/password").get_data(as_text=True)
    assert 'name="channel"' not in html
    response = client.submit("/user/password", {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD,
                                                "channel": "email", "action": "send"}, page="/user/emails")
    assert response.status_code == 400


def test_users_without_a_password_set_one_with_a_code_alone(app, me, mailbox):
    with app.app_context():
        db.session.get(User, me.user_id).password_hash = None
        db.session.commit()
    assert 'name="old_password"' not in me.get("/user/password").get_data(as_text=True)
    response = _change(me, mailbox, "alice@example.com", old="")
    assert response.status_code == 302
    assert password_is(app, me.user_id, NEW_PASSWORD)


def test_guessing_the_current_password_is_stopped_after_five_tries(app, me, mailbox):
    fields = {"new_password": NEW_PASSWORD, "channel": "email", "action": "send"}
    for n in range(5):
        response = me.submit("/user/password", {**fields, "old_password": f"guess number {n}"})
        assert "current password is wrong" in page_errors(response)
    before = len(mailbox.messages)
    response = me.submit("/user/password", {**fields, "old_password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert "Too many wrong passwords" in page_errors(response)
    assert len(mailbox.messages) == before
