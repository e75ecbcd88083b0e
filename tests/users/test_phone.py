import pytest

from portal.extensions import db
from portal.users.models import User

from .conftest import bind_phone, page_errors


def test_bind_a_mainland_phone_with_an_sms_code_then_sign_in_with_it(app, me, users, mailbox, new_phone, load):
    typed, e164 = new_phone()
    response = me.submit("/user/phone", {"phone": typed, "action": "send"})
    assert response.status_code == 200
    assert mailbox.to(e164)

    response = me.submit("/user/phone", {"phone": typed, "code": mailbox.last_code(e164), "action": "confirm"})
    assert response.status_code == 302
    user = load(User, me.user_id)
    assert user.phone == e164 and user.phone_verified_at is not None

    html = me.get("/user/phone").get_data(as_text=True)
    assert f"{typed[:3]}****{typed[-4:]}" in html

    other = app.test_client()
    users.sign_in(other, typed)


def test_bind_an_international_phone_stored_as_e164(app, me, mailbox, load):
    typed, e164 = "+44 7911 123456", "+447911123456"
    bind_phone(me, mailbox, typed, e164)
    assert load(User, me.user_id).phone == e164
    assert "+44 791****3456" in me.get("/user/profile").get_data(as_text=True)


@pytest.mark.parametrize("phone", ["", "abc", "138-0013-800x", "12345", "+86 123", "1" * 10_000,
                                   "１３８００１３８０００", "13800\x00138000", "+999 1234567"])
def test_non_numbers_and_invalid_numbers_are_refused(me, mailbox, load, phone):
    before = len(mailbox.messages)
    for action in ("send", "confirm"):
        response = me.submit("/user/phone", {"phone": phone, "code": "123456", "action": action})
        assert response.status_code == 400
        assert page_errors(response)
    assert load(User, me.user_id).phone is None
    assert len(mailbox.messages) == before


def test_a_wrong_code_binds_nothing(me, mailbox, new_phone, load):
    typed, e164 = new_phone()
    me.submit("/user/phone", {"phone": typed, "action": "send"})
    code = mailbox.last_code(e164)
    wrong = "000000" if code != "000000" else "999999"
    response = me.submit("/user/phone", {"phone": typed, "code": wrong, "action": "confirm"})
    assert response.status_code == 400
    assert page_errors(response)
    assert load(User, me.user_id).phone is None


def test_a_code_sent_for_one_number_does_not_bind_another(me, mailbox, new_phone, load):
    typed, e164 = new_phone()
    other_typed, _other = new_phone()
    me.submit("/user/phone", {"phone": typed, "action": "send"})
    response = me.submit("/user/phone", {"phone": other_typed, "code": mailbox.last_code(e164),
                                         "action": "confirm"})
    assert response.status_code == 400
    assert load(User, me.user_id).phone is None


def test_a_phone_bound_to_someone_else_is_refused(app, me, users, mailbox, new_phone, load):
    typed, e164 = new_phone()
    bob_id = users.create("bob")
    with app.app_context():
        db.session.get(User, bob_id).phone = e164
        db.session.commit()
    response = me.submit("/user/phone", {"phone": typed, "action": "send"})
    assert response.status_code == 400
    assert "another account" in page_errors(response)
    assert not mailbox.to(e164)
    assert load(User, me.user_id).phone is None


def test_send_code_answers_json_for_the_page_script(me, mailbox, new_phone):
    typed, e164 = new_phone()
    token = me.csrf_token("/user/phone")
    response = me.post("/user/phone", data={"csrf_token": token, "phone": typed, "action": "send"},
                       headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json["ok"] is True
    assert mailbox.to(e164)

    response = me.post("/user/phone", data={"csrf_token": token, "phone": "abc", "action": "send"},
                       headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json == {"ok": False, "field": "phone", "message": response.json["message"]}
    assert response.json["message"]
