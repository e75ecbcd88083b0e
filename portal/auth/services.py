"""Signing in and resetting a password: the rules, apart from any request or form."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from portal import passwords
from portal.auth import ratelimits
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.notices import send_notice
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
        send_email_code(user, user.primary_email, shown_as="sign_up")
    except ContactError as exc:
        log.warning("verification code for new user %s not sent: %s", user.id, exc.message)
        return user, False
    return user, True


def invalid_credentials() -> SignInError:
    # One message for a wrong password, an unknown login, a disabled account and an account
    # without a password, so the answer never tells which logins exist.
    return SignInError(_("The username, email or phone number and the password do not match."))


def too_many_attempts() -> SignInError:
    return SignInError(_("Too many attempts. Wait a few minutes and try again."))


class CodeRequired(Exception):
    """The password is right, but the account saw many failed attempts from elsewhere: a code sent
    to its primary contact must come with it (``start_unlock`` sends it)."""

    def __init__(self, user: User):
        super().__init__(user.id)
        self.user = user


UNLOCK_PURPOSE = "sign_in_unlock"


def authenticate(login: str, password: str, ip: str) -> User:
    """The user ``login`` + ``password`` sign in as; raises SignInError, or CodeRequired.

    Failures are counted per IP, per (account, IP) and per account (per typed login when it names
    nobody, so that unknown and known logins behave the same). Too many from one source refuse that
    source only; too many for the account from anywhere make the right password need a code too,
    so nobody who merely knows a username can keep its owner out."""
    if not ratelimits.hit("sign_in_ip", ip) or not ratelimits.allowed("sign_in_failed_ip", ip):
        raise too_many_attempts()
    user = users.find_user_by_login(login)
    account_key = f"user:{user.id}" if user else f"login:{(login or '').strip().casefold()[:254]}"
    source_key = f"{account_key}|{ip}"
    if not ratelimits.allowed("sign_in_failed_account_source", source_key):
        raise too_many_attempts()

    if user is None or not user.password_hash:
        passwords.burn_verification_time(password)
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    if not ok or not user.is_active:
        if user is not None:
            from portal.security_log import record

            record("sign_in_failed", user, details={"method": "password"})
            db.session.commit()
        ratelimits.hit("sign_in_failed_ip", ip)
        ratelimits.hit("sign_in_failed_account_source", source_key)
        ratelimits.hit("sign_in_failed_account", account_key)
        raise invalid_credentials()

    ratelimits.clear("sign_in_failed_account_source", source_key)
    if not ratelimits.allowed("sign_in_failed_account", account_key):
        # Two-factor sign-in will accept its second factor here instead of a code.
        raise CodeRequired(user)
    return finish_sign_in(user, password)


def finish_sign_in(user: User, password: str | None = None) -> User:
    """The first factor was right (the session starts in portal.auth.signins, after the second
    factor when two-factor sign-in is on, and records the sign-in in the same commit)."""
    if password is not None and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        db.session.commit()
    return user


def unlock_destination(user: User) -> str | None:
    """Where the code that comes with the password goes: the primary email, else the phone."""
    primary = user.primary_email
    if primary is not None and primary.is_verified:
        return primary.address
    return user.phone


def start_unlock(user: User) -> str:
    """Send the code a sign-in past the per-account threshold needs; returns where it went.

    Raises SignInError (the usual "too many attempts") when the user has no contact or the code
    cannot go out, so the answer is the one a locked source gets."""
    destination = unlock_destination(user)
    if destination is None:
        raise too_many_attempts()
    from portal.plugins import DeliveryError
    from portal.verification.services import CodeError, send_code

    try:
        # The password was right: this is the owner, whose codes draw on the owner's budget.
        send_code(UNLOCK_PURPOSE, destination, user_id=user.id, for_owner=True)
    except CodeError as exc:
        raise SignInError(exc.message) from None
    except DeliveryError:
        raise SignInError(_("The code could not be sent just now. Please try again later.")) from None
    return destination


def finish_unlock(user_id: int, code: str, ip: str) -> User:
    """Check the code sent by ``start_unlock`` and sign the user in; raises SignInError."""
    if not ratelimits.hit("sign_in_unlock_ip", ip):
        raise too_many_attempts()
    user = db.session.get(User, user_id)
    destination = unlock_destination(user) if user is not None and user.is_active else None
    if destination is None:
        raise invalid_credentials()
    from portal.verification.services import CodeError, check_code

    try:
        check_code(UNLOCK_PURPOSE, destination, (code or "").strip(), user_id=user.id)
    except CodeError as exc:
        raise SignInError(exc.message) from None
    ratelimits.clear("sign_in_failed_account", f"user:{user.id}")
    return finish_sign_in(user)


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


@dataclass(frozen=True)
class ResetRequest:
    """The answer to a reset request, the same whether or not an account uses the destination."""

    # The normalized destination (what a code is addressed to).
    destination: str
    # When no code went because codes to the destination (or from this client) are resting: the
    # seconds until a new one may be requested; 0 when one went if an account uses it.
    retry_after: int = 0


def request_password_reset(contact: str, ip: str) -> ResetRequest:
    """Send a reset code when ``contact`` is a verified email or phone of a user.

    The answer depends only on the request and on what was asked for this destination before, never
    on whether an account uses it: the destination rests after a request (the verification code
    limits) whether or not a code went. Raises SignInError for bad input and when the IP or the
    contact asks too often."""
    from portal.plugins import DeliveryError
    from portal.verification.services import CodeError, RateLimited, send_code, take_send_allowance

    destination = users.contact_destination(contact)
    if destination is None:
        raise SignInError(_("Enter the email address or the phone number of your account."))
    if not ratelimits.hit("reset_password_ip", ip) or not ratelimits.hit(
        "reset_password_contact", destination.lower()
    ):
        raise too_many_attempts()
    try:
        take_send_allowance(destination)
    except RateLimited as resting:
        return ResetRequest(destination, max(1, resting.retry_after))
    found = users.find_user_by_contact(destination)
    if found is None:
        return ResetRequest(destination)
    user, address = found
    try:
        send_code(RESET_PURPOSE, address, user_id=user.id, allowance_taken=True)
    except (CodeError, DeliveryError) as exc:
        # Saying so would tell the visitor that this contact has an account.
        log.warning("reset code for user %s not sent: %s", user.id, type(exc).__name__)
    return ResetRequest(destination)


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
    from portal.security_log import record

    record("password_reset", user, details={"via": "email" if "@" in address else "phone"})
    users.set_password(user, new_password)
    send_notice(user, _l("The password of your account was reset with a code sent to %(contact)s.",
                         contact=_masked(address)))
    return user


def _masked(destination: str) -> str:
    from portal.users.contacts import mask_email, mask_phone

    return mask_email(destination) if "@" in destination else mask_phone(destination)
