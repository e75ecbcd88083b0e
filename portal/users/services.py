"""Users: registration, emails, finding a user by what they sign in with, passwords, sessions.

Other rooms call these; they take plain arguments and commit their own work.
"""
from __future__ import annotations

import functools

import phonenumbers
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError

from portal import passwords
from portal.accounts.services import open_personal_account
from portal.extensions import db
from portal.i18n import gettext as _
from portal.timeutil import utcnow
from portal.users.models import Email, User
from portal.users.usernames import normalize_username, username_key  # noqa: F401 - public API

EMAIL_MAX_LENGTH = 254
# RFC 5321's limit on the part before the @ (OWASP: 63; mail servers refuse more than 64).
EMAIL_LOCAL_MAX_LENGTH = 64
# Phones typed without a country code are read as mainland China numbers.
DEFAULT_PHONE_REGION = "CN"


class RegistrationError(ValueError):
    """Sign-up refused; ``field`` names the form field the ``message`` (translated) belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def normalize_email(raw: str) -> str:
    """The address as stored; raises ValueError with a translated message when it is not valid."""
    address = (raw or "").strip()
    if not address:
        raise ValueError(_("Enter an email address."))
    if "\x00" in address:
        raise ValueError(_("The email address contains a NUL character."))
    if len(address) > EMAIL_MAX_LENGTH:
        raise ValueError(
            _("An email address can have at most %(count)d characters.", count=EMAIL_MAX_LENGTH)
        )
    if len(address.rpartition("@")[0]) > EMAIL_LOCAL_MAX_LENGTH:
        raise ValueError(_("The part before the @ can have at most %(count)d characters.",
                           count=EMAIL_LOCAL_MAX_LENGTH))
    try:
        # strict: the length limits of every part, not only of the whole address.
        normalized = validate_email(address, check_deliverability=False, strict=True).normalized
    except EmailNotValidError:
        raise ValueError(_("Enter a valid email address, like name@example.com.")) from None
    if len(normalized) > EMAIL_MAX_LENGTH:
        raise ValueError(
            _("An email address can have at most %(count)d characters.", count=EMAIL_MAX_LENGTH)
        )
    return normalized


def email_key(address: str) -> str:
    """What email uniqueness is decided on: an address belongs to one user whatever its case."""
    return address.lower()


def register_user(username: str, email: str, password: str) -> User:
    """Create a user, their primary (unverified) email and their personal account; commit."""
    try:
        username = normalize_username(username)
    except ValueError as exc:
        raise RegistrationError("username", str(exc)) from None
    try:
        address = normalize_email(email)
    except ValueError as exc:
        raise RegistrationError("email", str(exc)) from None
    problems = passwords.password_problems(password, username)
    if problems:
        raise RegistrationError("password", " ".join(problems))

    key = username_key(username)
    if db.session.scalar(sa.select(User.id).where(User.username_key == key)) is not None:
        raise _username_taken()
    # No check on the email: the new address is an unverified claim, which blocks nobody and which
    # nobody's claim blocks. Whether someone owns it is never said here (portal.users.contacts
    # tells its owner instead, when the code goes out).

    user = User(username=username, username_key=key, password_hash=passwords.hash_password(password))
    user.emails.append(Email(address=address, address_key=email_key(address), is_primary=True))
    db.session.add(user)
    open_personal_account(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Someone registered the same username between our check and our insert.
        db.session.rollback()
        raise _username_taken() from None
    return user


def register_phone_user(username: str, phone: str, password: str | None) -> User:
    """Create a user whose only contact is ``phone`` (E.164, verified by the caller with a code), and
    their personal account; commit. Without a password the user signs in with codes to the phone;
    an email can be added later in the user center."""
    try:
        username = normalize_username(username)
    except ValueError as exc:
        raise RegistrationError("username", str(exc)) from None
    if password:
        problems = passwords.password_problems(password, username)
        if problems:
            raise RegistrationError("password", " ".join(problems))
    key = username_key(username)
    if db.session.scalar(sa.select(User.id).where(User.username_key == key)) is not None:
        raise _username_taken()
    if db.session.scalar(sa.select(User.id).where(User.phone == phone)) is not None:
        raise _phone_taken()

    user = User(username=username, username_key=key, phone=phone, phone_verified_at=utcnow(),
                password_hash=passwords.hash_password(password) if password else None)
    db.session.add(user)
    open_personal_account(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Someone took the username, or bound the phone, between our checks and our insert.
        db.session.rollback()
        if db.session.scalar(sa.select(User.id).where(User.phone == phone)) is not None:
            raise _phone_taken() from None
        raise _username_taken() from None
    return user


def _phone_taken() -> RegistrationError:
    # Only said to whoever just proved they hold the phone (the code came before this step).
    return RegistrationError("phone", _("This phone number is already bound to an account. Sign in with it instead."))


def _username_taken() -> RegistrationError:
    return RegistrationError("username", _("This username is already taken."))


def mark_email_verified(email: Email) -> None:
    email.verified_at = utcnow()
    drop_other_claims(email)
    db.session.commit()


def verified_owner(address_key: str) -> Email | None:
    """The verified email row of ``address_key``, whoever owns it."""
    return db.session.scalar(sa.select(Email).where(Email.address_key == address_key, Email.verified_at.is_not(None)))


def drop_other_claims(email: Email | None = None, *, email_id: int | None = None, user_id: int | None = None,
                      address_key: str | None = None) -> None:
    """``email`` was just verified: every other user's claim on the address dies (caller commits)."""
    if email is not None:
        user_id, address_key = email.user_id, email.address_key
    db.session.execute(
        sa.delete(Email).where(Email.address_key == address_key, Email.user_id != user_id,
                               Email.verified_at.is_(None)),
        execution_options={"synchronize_session": False},
    )


def _phone_e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_user_by_login(login: str) -> User | None:
    """The user a sign-in name points to: a username, a verified email or a verified phone."""
    login = (login or "").strip()
    if not login or "\x00" in login or len(login) > EMAIL_MAX_LENGTH:
        return None
    if "@" in login:
        return db.session.scalar(_user_by_login_statement("email"), {"key": email_key(login)})
    candidate = login.replace(" ", "").replace("-", "")
    if candidate.startswith("+") or candidate.isdigit():
        phone = _phone_e164(candidate)
        if phone is None:
            return None
        return db.session.scalar(_user_by_login_statement("phone"), {"key": phone})
    try:
        key = username_key(login)
    except ValueError:
        return None
    return db.session.scalar(_user_by_login_statement("username"), {"key": key})


@functools.cache
def _user_by_login_statement(kind: str) -> sa.Select:
    # Every sign-in runs one: built once per process, the login a bind parameter.
    key = sa.bindparam("key")
    if kind == "email":
        return (sa.select(User).join(Email, Email.user_id == User.id)
                .where(Email.address_key == key, Email.verified_at.is_not(None)))
    if kind == "phone":
        return sa.select(User).where(User.phone == key, User.phone_verified_at.is_not(None))
    return sa.select(User).where(User.username_key == key)


def find_user_by_contact(contact: str) -> tuple[User, str] | None:
    """The user whose verified primary email or verified phone ``contact`` is, with the address as
    stored (where a code for that user should be sent). Recovery goes only through these primary
    contacts: a secondary address someone added to a borrowed session is no way back in."""
    contact = (contact or "").strip()
    if "@" in contact:
        try:
            address = normalize_email(contact)
        except ValueError:
            return None
        email = db.session.scalar(
            sa.select(Email).where(Email.address_key == email_key(address), Email.verified_at.is_not(None),
                                   Email.is_primary.is_(True))
        )
        return (email.user, email.address) if email else None
    phone = _phone_e164(contact.replace(" ", "").replace("-", ""))
    if phone is None:
        return None
    user = db.session.scalar(
        sa.select(User).where(User.phone == phone, User.phone_verified_at.is_not(None))
    )
    return (user, phone) if user else None


def contact_destination(contact: str) -> str | None:
    """``contact`` (an email or a phone) normalized the way codes are addressed, or None."""
    contact = (contact or "").strip()
    if "@" in contact:
        try:
            return normalize_email(contact)
        except ValueError:
            return None
    return _phone_e164(contact.replace(" ", "").replace("-", ""))


def set_password(user: User, new_password: str) -> None:
    """Replace the password and sign the user out everywhere (but for the session that changes it,
    which the caller signs in again). The caller checks the policy."""
    from portal.devices import services as devices

    user.password_hash = passwords.hash_password(new_password)
    user.session_version = User.session_version + 1
    devices.end_all(user.id, "password", keep_public_id=_current_device_session(user))
    db.session.commit()


def _current_device_session(user: User) -> str | None:
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and current_user.is_authenticated and current_user.id == user.id:
        return current_user.device_session_id
    return None


def end_all_sessions(user: User, reason: str = "sign_out") -> None:
    """Every session of the user, copied and remember-me cookies included, stops working."""
    from portal.devices import services as devices
    from portal.security_log import record

    user.session_version = User.session_version + 1
    devices.end_all(user.id, reason)
    if reason == "sign_out":
        record("sign_out", user)
    db.session.commit()
