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


def _age(app, user_id, days):
    """Make everything of the user look ``days`` old."""
    from datetime import timedelta

    from portal.identities.models import Identity
    from portal.timeutil import utcnow

    with app.app_context():
        then = utcnow() - timedelta(days=days)
        for email in db.session.get(User, user_id).emails:
            email.created_at = then
        for identity in db.session.scalars(db.select(Identity).filter_by(user_id=user_id)):
            identity.linked_at = then
        db.session.commit()


def _plant(app, user_id):
    """What a hijacker adds: a verified secondary email and a linked GitHub account."""
    from portal.identities.models import Identity
    from portal.timeutil import utcnow

    with app.app_context():
        user = db.session.get(User, user_id)
        user.emails.append(Email(address="evil@example.com", address_key="evil@example.com", verified_at=utcnow()))
        db.session.add(Identity(user=user, provider="github", subject="666", name="Evil"))
        db.session.commit()


def test_recover_ends_sessions_and_removes_what_was_added_recently(app, runner, users):
    from portal.identities.models import Identity

    client, user_id = users.signed_in_client("alice")
    with app.app_context():
        user = db.session.get(User, user_id)
        user.emails.append(Email(address="old@example.com", address_key="old@example.com", verified_at=user.created_at))
        db.session.commit()
    _age(app, user_id, 90)
    _plant(app, user_id)

    result = runner.invoke(args=["portal", "users", "recover", "alice", "--days", "30", "--yes"])
    assert result.exit_code == 0, result.output
    assert "evil@example.com" in result.output and "github Evil" not in result.output.split("What remains:")[1]
    assert set(_user(app, user_id)[1]) == {"alice@example.com", "old@example.com"}
    with app.app_context():
        assert db.session.scalar(db.select(Identity).filter_by(user_id=user_id)) is None
    assert client.get("/user/profile").status_code == 302  # signed out


def test_set_contact_ends_every_session_and_lists_the_ways_in(app, runner, users):
    client, user_id = users.signed_in_client("alice")
    _plant(app, user_id)
    result = runner.invoke(args=["portal", "users", "set-contact", "alice", "--phone", "13800138124"])
    assert result.exit_code == 0, result.output
    assert "every session of the user was ended" in result.output
    assert "github Evil" in result.output and "password:    set" in result.output
    assert client.get("/user/profile").status_code == 302
