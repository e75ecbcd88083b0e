"""Signing in and resetting a password: the rules, apart from any request or form."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from portal import passwords
from portal.auth import ratelimits
from portal.extensions import db
from portal.i18n import gettext as _
from portal.timeutil import utcnow
from portal.users import services as users
from portal.users.models import User

log = logging.getLogger(__name__)

RESET_PURPOSE = "reset_password"


class SignInError(ValueError):
    """Sign-in refused; ``message`` is translated and safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def sign_up(username: str, email: str, password: str) -> tuple[User, bool]:
    """Register a user (raises users.RegistrationError) and send the code that verifies their email.

    Returns the user and whether the code went out; a delivery failure does not undo the sign-up,
    the user can ask for another code in the user center."""
    user = users.register_user(username, email, password)
    from portal.users.contacts import ContactError, send_email_code

    try:
        send_email_code(user, user.primary_email)
    except ContactError as exc:
        log.warning("verification code for new user %s not sent: %s", user.id, exc.message)
        return user, False
    return user, True


def invalid_credentials() -> SignInError:
    # One message for a wrong password, an unknown login, a disabled account and an account
    # without a password, so the answer never tells which logins exist.
    return SignInError(_("The sign-in name or the password is wrong."))


def too_many_attempts() -> SignInError:
    return SignInError(_("Too many attempts. Wait a few minutes and try again."))


def authenticate(login: str, password: str, ip: str) -> User:
    """The user ``login`` + ``password`` sign in as; raises SignInError.

    Failures are limited per IP and per account (per typed login when it names nobody, so that
    unknown and known logins behave the same)."""
    if not ratelimits.hit("sign_in_ip", ip) or not ratelimits.allowed("sign_in_failed_ip", ip):
        raise too_many_attempts()
    user = users.find_user_by_login(login)
    account_key = f"user:{user.id}" if user else f"login:{(login or '').strip().casefold()[:254]}"
    if not ratelimits.allowed("sign_in_failed_account", account_key):
        raise too_many_attempts()

    if user is None or not user.password_hash:
        passwords.burn_verification_time(password)
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    if not ok or not user.is_active:
        ratelimits.hit("sign_in_failed_ip", ip)
        ratelimits.hit("sign_in_failed_account", account_key)
        raise invalid_credentials()

    ratelimits.clear("sign_in_failed_account", account_key)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_sign_in_at = utcnow()
    db.session.commit()
    return user


def is_local_path(target: str | None) -> bool:
    """True for a path on this site (``/users/emails?x=1``); never another host or scheme."""
    if not target or "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.scheme
        and not parts.netloc
    )


def request_password_reset(contact: str, ip: str) -> str:
    """Send a reset code when ``contact`` is a verified email or phone of a user.

    Returns the normalized destination (what the code is addressed to), whether or not a code was
    sent: the caller must answer the same either way. Raises SignInError for bad input and when
    the IP or the contact asks too often (both independent of whether an account exists)."""
    destination = users.contact_destination(contact)
    if destination is None:
        raise SignInError(_("Enter the email address or the phone number of your account."))
    if not ratelimits.hit("reset_password_ip", ip) or not ratelimits.hit(
        "reset_password_contact", destination.lower()
    ):
        raise too_many_attempts()
    found = users.find_user_by_contact(destination)
    if found is None:
        return destination
    user, address = found
    from portal.plugins import DeliveryError
    from portal.verification.services import CodeError, send_code

    try:
        send_code(RESET_PURPOSE, address, user_id=user.id)
    except (CodeError, DeliveryError) as exc:
        # Saying so would tell the visitor that this contact has an account.
        log.warning("reset code for user %s not sent: %s", user.id, type(exc).__name__)
    return destination


def reset_password(destination: str, code: str, new_password: str, ip: str) -> User:
    """Check the reset code sent to ``destination`` and set the new password (which signs the user
    out everywhere). Raises SignInError for a wrong code, or ValueError listing password problems."""
    if not ratelimits.hit("reset_password_confirm_ip", ip):
        raise too_many_attempts()
    # The policy is checked before looking anyone up, so its answer says nothing about accounts.
    problems = passwords.password_problems(new_password)
    if problems:
        raise ValueError(" ".join(problems))
    found = users.find_user_by_contact(destination)
    wrong_code = SignInError(_("The code is wrong or has expired. Ask for a new one."))
    if found is None:
        raise wrong_code
    user, address = found
    problems = passwords.password_problems(new_password, user.username)
    if problems:
        raise ValueError(" ".join(problems))
    from portal.verification.services import CodeError, check_code

    try:
        check_code(RESET_PURPOSE, address, (code or "").strip(), user_id=user.id)
    except CodeError as exc:
        raise SignInError(exc.message or wrong_code.message) from None
    users.set_password(user, new_password)
    return user
