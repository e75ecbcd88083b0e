import threading

import pytest

from portal.extensions import db
from portal.users.models import Email, User

from .conftest import page_errors


def _emails(app, user_id):
    with app.app_context():
        return {e.address: (e.is_primary, e.is_verified) for e in db.session.get(User, user_id).emails}


def _email_id_of(app, user_id, address):
    with app.app_context():
        return db.session.scalar(db.select(Email.id).where(Email.address_key == address, Email.user_id == user_id))


def _email_id(app, address):
    with app.app_context():
        return db.session.scalar(db.select(Email.id).where(Email.address_key == address.lower()))


def test_add_an_email_and_verify_it_with_the_code_sent_to_it(app, me, mailbox):
    response = me.submit("/user/emails", {"address": "  Alice.Work@Example.COM "})
    assert response.status_code == 302
    assert _emails(app, me.user_id)["Alice.Work@example.com"] == (False, False)

    email_id = _email_id(app, "alice.work@example.com")
    code = mailbox.last_code("alice.work@example.com")
    response = me.submit(f"/user/emails/{email_id}/verify", {"code": code}, page="/user/emails")
    assert response.status_code == 302
    assert _emails(app, me.user_id)["Alice.Work@example.com"] == (False, True)


def test_a_wrong_code_is_refused_and_verifies_nothing(app, me, mailbox):
    me.submit("/user/emails", {"address": "second@example.com"})
    email_id = _email_id(app, "second@example.com")
    code = mailbox.last_code("second@example.com")
    wrong = "000000" if code != "000000" else "111111"

    response = me.submit(f"/user/emails/{email_id}/verify", {"code": wrong}, page="/user/emails")
    assert response.status_code == 400
    assert page_errors(response)
    assert _emails(app, me.user_id)["second@example.com"] == (False, False)


def test_a_code_for_another_purpose_does_not_verify_an_email(app, me, mailbox):
    from portal.users import contacts
    from portal.verification.services import send_code

    with app.test_request_context():
        email_id = contacts.add_email(db.session.get(User, me.user_id), "second@example.com").id
        send_code("change_password", "second@example.com", user_id=me.user_id)
    other_purpose_code = mailbox.last_code("second@example.com")

    response = me.submit(f"/user/emails/{email_id}/verify", {"code": other_purpose_code}, page="/user/emails")
    assert response.status_code == 400
    assert _emails(app, me.user_id)["second@example.com"] == (False, False)


@pytest.mark.parametrize("address", [
    "", "   ", "not-an-email", "a@@example.com", "a@b@example.com", "x" * 250 + "@example.com",
    "a" * 10_000, "nul\x00@example.com", "alice@example.com",
])
def test_bad_or_duplicate_addresses_are_refused_with_a_message(app, me, address):
    before = _emails(app, me.user_id)
    response = me.submit("/user/emails", {"address": address})
    assert response.status_code == 400
    assert page_errors(response)
    assert _emails(app, me.user_id) == before


def test_someone_elses_verified_address_can_be_claimed_but_never_verified(app, me, users, mailbox):
    users.create("bob", email="bob@example.com")
    response = me.submit("/user/emails", {"address": "BOB@example.com"})
    assert response.status_code == 302  # the same answer as for a free address
    email_id = _email_id_of(app, me.user_id, "bob@example.com")
    refused = me.submit(f"/user/emails/{email_id}/verify", {"code": mailbox.last_code("bob@example.com")},
                        page="/user/emails")
    assert refused.status_code == 400 and "already in use" in page_errors(refused)
    assert _emails(app, me.user_id)["BOB@example.com"] == (False, False)


def test_two_users_verifying_the_same_address_at_once_one_wins(app, users, mailbox):
    from portal.users import contacts

    from portal.verification.services import send_code

    ids = [users.create("carol"), users.create("dave")]
    codes = {}
    with app.test_request_context():
        for user_id in ids:
            contacts.add_email(db.session.get(User, user_id), "shared@example.com")
            send_code(contacts.VERIFY_EMAIL, "shared@example.com", user_id=user_id, for_owner=True)
            codes[user_id] = mailbox.last_code("shared@example.com")
    barrier = threading.Barrier(2)
    outcomes = []

    def verify(user_id):
        with app.test_request_context():
            user = db.session.get(User, user_id)
            email = next(e for e in user.emails if e.address_key == "shared@example.com")
            barrier.wait()
            try:
                contacts.verify_email(user, email, codes[user_id])
                outcomes.append("verified")
            except contacts.ContactError as exc:
                outcomes.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=verify, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 2 and outcomes.count("verified") == 1
    with app.app_context():
        rows = db.session.scalars(db.select(Email).where(Email.address_key == "shared@example.com")).all()
        # The winner owns it; the other claim died.
        assert len(rows) == 1 and rows[0].is_verified


def test_only_a_verified_email_can_become_primary(app, me, mailbox):
    me.submit("/user/emails", {"address": "new@example.com"})
    email_id = _email_id(app, "new@example.com")
    response = me.submit(f"/user/emails/{email_id}/primary", {"action": "confirm", "code": "123456"})
    assert response.status_code == 400
    assert "verified" in page_errors(response)
    assert _emails(app, me.user_id)["alice@example.com"] == (True, True)


def test_remove_a_non_primary_email_but_never_the_primary(app, me):
    me.submit("/user/emails", {"address": "extra@example.com"})
    extra_id = _email_id(app, "extra@example.com")
    primary_id = _email_id(app, "alice@example.com")

    response = me.submit(f"/user/emails/{primary_id}/remove", {}, page="/user/emails")
    assert response.status_code == 400
    assert "primary" in page_errors(response)

    assert me.submit(f"/user/emails/{extra_id}/remove", {}, page="/user/emails").status_code == 302
    assert set(_emails(app, me.user_id)) == {"alice@example.com"}


def test_the_only_verified_contact_cannot_be_removed(app, users, mailbox):
    # Registered with an address never verified, then verified a second one.
    user_id = users.create("erin", verified=False)
    client = app.test_client()
    users.sign_in(client, "erin")
    client.submit("/user/emails", {"address": "erin2@example.com"})
    second = _email_id(app, "erin2@example.com")
    client.submit(f"/user/emails/{second}/verify", {"code": mailbox.last_code("erin2@example.com")},
                  page="/user/emails")
    assert _emails(app, user_id)["erin2@example.com"] == (False, True)

    response = client.submit(f"/user/emails/{second}/remove", {}, page="/user/emails")
    assert response.status_code == 400
    assert "only verified contact" in page_errors(response)
    assert "erin2@example.com" in _emails(app, user_id)


def test_another_users_email_is_not_found(app, me, users):
    users.create("bob", email="bob@example.com")
    bob_email = _email_id(app, "bob@example.com")
    for url in (f"/user/emails/{bob_email}/remove", f"/user/emails/{bob_email}/verify",
                f"/user/emails/{bob_email}/code", f"/user/emails/{bob_email}/primary"):
        assert me.submit(url, {"code": "123456"}, page="/user/emails").status_code == 404
    assert me.get(f"/user/emails/{bob_email}/primary").status_code == 404
    assert me.get("/user/emails/99999999999999999999/primary").status_code == 404
    assert _email_id(app, "bob@example.com") == bob_email


def test_resend_code_answers_json_for_the_page_script(app, me, mailbox):
    me.submit("/user/emails", {"address": "json@example.com"})
    email_id = _email_id(app, "json@example.com")
    token = me.csrf_token("/user/emails")
    response = me.post(f"/user/emails/{email_id}/code", data={"csrf_token": token},
                       headers={"Accept": "application/json"})
    # One code a minute per address: the second send is refused with a reason.
    assert response.status_code == 400
    assert response.json["ok"] is False and response.json["message"]


def test_two_primary_changes_at_once_leave_exactly_one_primary(app, users):
    from portal.users import contacts
    from portal.timeutil import utcnow

    # An unverified primary is replaced without a code, so both threads reach the change.
    user_id = users.create("ivy", verified=False)
    with app.app_context():
        for address in ("ivy2@example.com", "ivy3@example.com"):
            db.session.add(Email(user_id=user_id, address=address, address_key=address, verified_at=utcnow()))
        db.session.commit()
        candidates = [_email_id(app, "ivy2@example.com"), _email_id(app, "ivy3@example.com")]
    barrier = threading.Barrier(2)

    def promote(email_id):
        with app.test_request_context():
            user = db.session.get(User, user_id)
            email = db.session.get(Email, email_id)
            user.emails  # noqa: B018
            barrier.wait()
            try:
                contacts.set_primary_email(user, email)
            except contacts.ContactError:
                pass  # the other one won first and its address is now verified primary
            finally:
                db.session.remove()

    threads = [threading.Thread(target=promote, args=(i,)) for i in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    primaries = [a for a, (primary, _v) in _emails(app, user_id).items() if primary]
    assert len(primaries) == 1
