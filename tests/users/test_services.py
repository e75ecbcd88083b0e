"""The user services other rooms call: registration, lookup by sign-in name, passwords, sessions."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.accounts.models import Account
from portal.extensions import db
from portal.passwords import verify_password
from portal.users import services
from portal.users.models import Email, User
from portal_devkit.testing.plugin import DEFAULT_PASSWORD


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_register_user_creates_user_primary_email_and_personal_account(app):
    with app.app_context():
        user = services.register_user("Alice", "Alice@Example.COM", DEFAULT_PASSWORD)
        assert user.id and user.username == "Alice" and user.username_key == "alice"
        assert user.created_at is not None
        email = user.primary_email
        assert email.address == "Alice@example.com" and email.address_key == "alice@example.com"
        assert not email.is_verified
        account = db.session.scalar(sa.select(Account).where(Account.user_id == user.id))
        assert account is not None and account.balance_fen == 0
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert verify_password(user.password_hash, DEFAULT_PASSWORD)
        assert not verify_password(user.password_hash, DEFAULT_PASSWORD + "x")


@pytest.mark.parametrize(
    "username, email, password, field",
    [
        ("", "a@example.com", DEFAULT_PASSWORD, "username"),
        ("ab", "a@example.com", DEFAULT_PASSWORD, "username"),
        ("a" * 33, "a@example.com", DEFAULT_PASSWORD, "username"),
        ("1alice", "a@example.com", DEFAULT_PASSWORD, "username"),
        ("al ice", "a@example.com", DEFAULT_PASSWORD, "username"),
        ("аlice", "a@example.com", DEFAULT_PASSWORD, "username"),  # Cyrillic а
        ("alice\x00", "a@example.com", DEFAULT_PASSWORD, "username"),
        ("alice", "a@@example.com", DEFAULT_PASSWORD, "email"),
        ("alice", "a@b@example.com", DEFAULT_PASSWORD, "email"),
        ("alice", "a" * 64 + "@" + "b" * 190 + ".com", DEFAULT_PASSWORD, "email"),
        ("alice", "", DEFAULT_PASSWORD, "email"),
        ("alice", "a@example.com", "short", "password"),
        ("alice", "a@example.com", "password1", "password"),
        ("alice", "a@example.com", "x" * 1025, "password"),
        ("alicealice", "a@example.com", "AliceAlice", "password"),
        ("alice", "a@example.com", "correct\x00horse battery", "password"),
    ],
)
def test_register_user_refuses_bad_input_and_creates_nothing(app, username, email, password, field):
    with app.app_context():
        with pytest.raises(services.RegistrationError) as raised:
            services.register_user(username, email, password)
        assert raised.value.field == field and raised.value.message
        assert count(User) == 0 and count(Email) == 0 and count(Account) == 0


def test_full_width_letters_become_ascii_and_spaces_are_trimmed(app):
    with app.app_context():
        user = services.register_user("  ａｌｉｃｅ_1 ", "  alice@example.com ", DEFAULT_PASSWORD)
        assert user.username == "alice_1"
        assert user.primary_email.address == "alice@example.com"


def test_usernames_are_unique_whatever_their_case_and_an_email_is_only_claimed(app):
    with app.app_context():
        alice = services.register_user("alice", "alice@example.com", DEFAULT_PASSWORD)
        with pytest.raises(services.RegistrationError) as raised:
            services.register_user("ALICE", "other@example.com", DEFAULT_PASSWORD)
        assert raised.value.field == "username"
        assert count(User) == 1 and count(Account) == 1
        # An address is only claimed at sign-up: another claim on it is no error, and the first to
        # verify owns it (the other claim dies).
        bob = services.register_user("bob", "ALICE@example.com", DEFAULT_PASSWORD)
        services.mark_email_verified(alice.primary_email)
        db.session.expire_all()
        assert alice.primary_email.is_verified and bob.emails == []


def test_a_lost_race_becomes_a_registration_error(app, monkeypatch):
    """Two sign-ups with one username at once: the unique constraint decides, the loser gets a message."""
    with app.app_context():
        services.register_user("alice", "alice@example.com", DEFAULT_PASSWORD)
        real_scalar = db.session.scalar
        calls = {"n": 0}

        def scalar_that_misses_the_first_checks(statement, *args, **kwargs):
            # Simulates the other request committing between our check and our insert.
            calls["n"] += 1
            if calls["n"] <= 2:
                return None
            return real_scalar(statement, *args, **kwargs)

        monkeypatch.setattr(db.session, "scalar", scalar_that_misses_the_first_checks)
        with pytest.raises(services.RegistrationError) as raised:
            services.register_user("Alice", "alice2@example.com", DEFAULT_PASSWORD)
        monkeypatch.undo()
        assert raised.value.field == "username"
        assert count(User) == 1 and count(Email) == 1 and count(Account) == 1


def test_find_user_by_login_uses_username_verified_email_or_verified_phone(app, users):
    user_id = users.create("alice", email="alice@example.com", verified=False)
    with app.app_context():
        user = db.session.get(User, user_id)
        assert services.find_user_by_login("ALICE").id == user_id
        assert services.find_user_by_login(" alice ").id == user_id
        assert services.find_user_by_login("alice@example.com") is None
        services.mark_email_verified(user.primary_email)
        assert services.find_user_by_login("Alice@Example.com").id == user_id

        user.phone = "+8613800138000"
        db.session.commit()
        assert services.find_user_by_login("13800138000") is None
        user.phone_verified_at = user.created_at
        db.session.commit()
        assert services.find_user_by_login("13800138000").id == user_id
        assert services.find_user_by_login("+86 138 0013 8000").id == user_id
        for nobody in ("", "bob", "x" * 10000, "a\x00b", "1234", "bob@example.com"):
            assert services.find_user_by_login(nobody) is None


def test_set_password_and_end_all_sessions_bump_the_session_version(app, users):
    user_id = users.create("alice")
    with app.app_context():
        user = db.session.get(User, user_id)
        version = user.session_version
        services.set_password(user, "a new and long passphrase")
        assert user.session_version == version + 1
        assert verify_password(user.password_hash, "a new and long passphrase")
        services.end_all_sessions(user)
        assert user.session_version == version + 2
