"""``flask portal users``: what support uses when a contact must change on a user's behalf."""
from portal.extensions import db
from portal.users.models import Email, User


def _user(app, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        return user.phone, {e.address: (e.is_primary, e.is_verified) for e in user.emails}


def test_show_a_user_by_id_username_or_email(app, runner, users):
    user_id = users.create("alice")
    for who in (str(user_id), "ALICE", "alice@example.com"):
        result = runner.invoke(args=["portal", "users", "show", who])
        assert result.exit_code == 0, result.output
        assert f"user ID:     {user_id}" in result.output
        assert "alice@example.com (primary, verified)" in result.output

    result = runner.invoke(args=["portal", "users", "show", "nobody"])
    assert result.exit_code != 0 and "no user" in result.output


def test_set_contact_replaces_the_primary_email_and_binds_a_phone(app, runner, users):
    user_id = users.create("alice")
    result = runner.invoke(args=["portal", "users", "set-contact", "alice", "--email", "Alice@New.example.com",
                                 "--phone", "13800138123"])
    assert result.exit_code == 0, result.output
    phone, emails = _user(app, user_id)
    assert phone == "+8613800138123"
    assert emails == {"Alice@new.example.com": (True, True)}

    result = runner.invoke(args=["portal", "users", "set-contact", str(user_id), "--remove-phone"])
    assert result.exit_code == 0, result.output
    assert _user(app, user_id)[0] is None


def test_set_contact_refuses_bad_or_taken_contacts_and_changes_nothing(app, runner, users):
    user_id = users.create("alice")
    users.create("bob")
    with app.app_context():
        db.session.get(User, user_id).phone = "+8613800138124"
        db.session.commit()
    before = _user(app, user_id)
    for args in (["--email", "bob@example.com"], ["--email", "not an email"], ["--phone", "12345"],
                 ["--phone", "+8613800138124", "--remove-phone"], []):
        result = runner.invoke(args=["portal", "users", "set-contact", "alice", *args])
        assert result.exit_code != 0, args
        assert "Error" in result.output
    assert _user(app, user_id) == before
    with app.app_context():
        assert db.session.scalar(db.select(Email.user_id).where(Email.address_key == "bob@example.com")) != user_id


def test_set_contact_promotes_an_address_the_user_already_has(app, runner, users):
    user_id = users.create("alice")
    with app.app_context():
        db.session.add(Email(user_id=user_id, address="second@example.com", address_key="second@example.com"))
        db.session.commit()
    result = runner.invoke(args=["portal", "users", "set-contact", "alice", "--email", "second@example.com"])
    assert result.exit_code == 0, result.output
    assert _user(app, user_id)[1] == {"second@example.com": (True, True)}
