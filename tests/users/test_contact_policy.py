"""CONTACT_CHANGE_POLICY: "self" lets users replace bound contacts after codes to the old and the new
one; "support" leaves a bound phone and a verified primary email to operators."""
import pytest

from portal.extensions import db
from portal.users.models import Email, User

from .conftest import bind_phone, give_phone, page_errors


def _email_id(app, address):
    with app.app_context():
        return db.session.scalar(db.select(Email.id).where(Email.address_key == address))


def _primary(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).primary_email.address


def _add_verified(app, client, mailbox, address):
    client.submit("/user/emails", {"address": address})
    email_id = _email_id(app, address)
    client.submit(f"/user/emails/{email_id}/verify", {"code": mailbox.last_code(address)}, page="/user/emails")
    return email_id


class TestSelfPolicy:
    def test_change_the_phone_with_codes_to_the_old_and_the_new_one(self, app, me, mailbox, new_phone, load):
        _old_typed, old = new_phone()
        give_phone(app, me.user_id, old)
        new_typed, new = new_phone()

        response = me.submit("/user/phone", {"phone": new_typed, "action": "send"})
        assert response.status_code == 200
        old_code, new_code = mailbox.last_code(old), mailbox.last_code(new)

        # The new phone's code alone is not enough, nor the two swapped.
        for codes in ({"code": new_code}, {"code": old_code, "old_code": new_code}):
            response = me.submit("/user/phone", {"phone": new_typed, "action": "confirm", **codes})
            assert response.status_code == 400
            assert load(User, me.user_id).phone == old

        response = me.submit("/user/phone", {"phone": new_typed, "action": "confirm",
                                             "old_code": old_code, "code": new_code})
        assert response.status_code == 302, page_errors(response)
        assert load(User, me.user_id).phone == new

    def test_unbind_the_phone_with_a_code_to_it(self, app, me, mailbox, new_phone, load):
        _typed, e164 = new_phone()
        give_phone(app, me.user_id, e164)
        assert me.submit("/user/phone/unbind", {"action": "send"}, page="/user/phone").status_code == 200
        response = me.submit("/user/phone/unbind", {"action": "confirm", "unbind-code": mailbox.last_code(e164)},
                             page="/user/phone")
        assert response.status_code == 302
        assert load(User, me.user_id).phone is None

    def test_the_phone_cannot_be_unbound_when_it_is_the_only_verified_contact(self, app, users, mailbox,
                                                                             new_phone, load):
        user_id = users.create("gina", verified=False)
        client = app.test_client()
        users.sign_in(client, "gina")
        typed, e164 = new_phone()
        bind_phone(client, mailbox, typed, e164)

        response = client.submit("/user/phone/unbind", {"action": "send"}, page="/user/phone")
        assert response.status_code == 400
        assert "only verified contact" in page_errors(response)
        assert load(User, user_id).phone == e164

    def test_change_the_primary_email_with_a_code_to_the_old_one(self, app, me, mailbox):
        new_id = _add_verified(app, me, mailbox, "alice.new@example.com")
        page = f"/user/emails/{new_id}/primary"

        response = me.submit(page, {"action": "confirm", "code": ""})
        assert response.status_code == 400
        assert _primary(app, me.user_id) == "alice@example.com"

        assert me.submit(page, {"action": "send"}).status_code == 200
        response = me.submit(page, {"action": "confirm", "code": mailbox.last_code("alice@example.com")})
        assert response.status_code == 302
        assert _primary(app, me.user_id) == "alice.new@example.com"

        # The old primary is now an ordinary address, and can be removed.
        old_id = _email_id(app, "alice@example.com")
        assert me.submit(f"/user/emails/{old_id}/remove", {}, page="/user/emails").status_code == 302

    def test_an_unverified_primary_is_replaced_without_a_code_to_it(self, app, users, mailbox):
        user_id = users.create("hugo", verified=False)
        client = app.test_client()
        users.sign_in(client, "hugo")
        new_id = _add_verified(app, client, mailbox, "hugo2@example.com")
        response = client.submit(f"/user/emails/{new_id}/primary", {"action": "confirm"})
        assert response.status_code == 302
        assert _primary(app, user_id) == "hugo2@example.com"


class TestSupportPolicy:
    @pytest.fixture
    def portal_config(self, portal_config):
        return {**portal_config, "CONTACT_CHANGE_POLICY": "support"}

    def test_a_phone_can_be_bound_once_then_only_support_changes_it(self, me, mailbox, new_phone, load):
        typed, e164 = new_phone()
        bind_phone(me, mailbox, typed, e164)

        html = me.get("/user/phone").get_data(as_text=True)
        assert "contact customer support" in html
        assert 'name="phone"' not in html

        other_typed, other = new_phone()
        response = me.submit("/user/phone", {"phone": other_typed, "action": "send"}, page="/user/password")
        assert response.status_code == 400
        assert not mailbox.to(other)
        response = me.submit("/user/phone/unbind", {"action": "send"}, page="/user/password")
        assert response.status_code == 400
        assert load(User, me.user_id).phone == e164

    def test_a_verified_primary_email_stays_primary(self, app, me, mailbox):
        new_id = _add_verified(app, me, mailbox, "alice.new@example.com")
        html = me.get("/user/emails").get_data(as_text=True)
        assert "contact customer support" in html
        assert f"/user/emails/{new_id}/primary" not in html

        response = me.submit(f"/user/emails/{new_id}/primary", {"action": "send"}, page="/user/emails")
        assert response.status_code == 400
        assert _primary(app, me.user_id) == "alice@example.com"

    def test_other_emails_are_still_added_and_removed_freely(self, app, me, mailbox):
        extra_id = _add_verified(app, me, mailbox, "extra@example.com")
        assert me.submit(f"/user/emails/{extra_id}/remove", {}, page="/user/emails").status_code == 302
