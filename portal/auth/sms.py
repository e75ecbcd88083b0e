"""验证码登录: signing in with a code sent by SMS to the bound phone, and signing up with a phone.

The answers depend only on the request and on what was asked for the phone before, never on
whether an account uses it: asking for a code always says the same thing (the phone rests after a
request whether or not a code went), and every wrong, expired or missing code gets one message. A
code really goes to a phone bound and verified on an active account, or, when phone sign-up is on
(``SIGNUP_BY_PHONE``), to any valid number, where it starts a sign-up.

Codes are those of portal.verification (purpose ``sign_in``: hashed, single use, short-lived). The
code is the first factor: a user with two-factor sign-in is asked for the second one afterwards
(portal.auth.signins), as after a password.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app

from portal.auth import ratelimits
from portal.auth.services import SignInError, too_many_attempts
from portal.extensions import db
from portal.i18n import gettext as _
from portal.users import services as users
from portal.users.models import User

log = logging.getLogger(__name__)

PURPOSE = "sign_in"


def sign_up_enabled() -> bool:
    return bool(current_app.config.get("SIGNUP_BY_PHONE"))


def wrong_code() -> SignInError:
    # One message for a wrong, expired, used or never sent code, and for a phone of nobody.
    return SignInError(_("The code is wrong or has expired. Ask for a new one."))


def phone_destination(raw: str) -> str:
    """The typed phone in E.164; raises SignInError when it is not a valid number."""
    phone = users.contact_destination(raw) if "@" not in (raw or "") else None
    if phone is None:
        raise SignInError(_("Enter a valid phone number."))
    return phone


@dataclass(frozen=True)
class CodeRequest:
    """The answer to a request for a code, the same whether or not an account uses the phone."""

    phone: str
    # Seconds until a new code may be requested when none went because the phone is resting; else 0.
    retry_after: int = 0


def _account_of(phone: str) -> User | None:
    user = db.session.scalar(db.select(User).where(User.phone == phone, User.phone_verified_at.is_not(None)))
    return user if user is not None and user.is_active else None


def request_code(raw_phone: str, ip: str) -> CodeRequest:
    """Send a sign-in code to the phone of an account (or, with phone sign-up on, to any phone).

    Raises SignInError for a malformed number and when this client or this phone asks too often."""
    from portal.plugins import DeliveryError
    from portal.verification.services import CodeError, RateLimited, send_code, take_send_allowance

    phone = phone_destination(raw_phone)
    if not ratelimits.hit("sign_in_code_send_ip", ip) or not ratelimits.hit("sign_in_code_send_phone", phone):
        raise too_many_attempts()
    try:
        take_send_allowance(phone)
    except RateLimited as resting:
        return CodeRequest(phone, max(1, resting.retry_after))
    user = _account_of(phone)
    if user is None and not sign_up_enabled():
        return CodeRequest(phone)
    try:
        send_code(PURPOSE, phone, user_id=user.id if user else None, allowance_taken=True)
    except (CodeError, DeliveryError) as exc:
        # Saying so would tell the visitor whether this phone has an account.
        log.warning("sign-in code to a phone not sent: %s", type(exc).__name__)
    return CodeRequest(phone)


@dataclass(frozen=True)
class CodeAccepted:
    """A right code: the account it signs in to, or (``user`` None) the verified phone of a sign-up."""

    phone: str
    user: User | None = None


def check_code(raw_phone: str, code: str, ip: str) -> CodeAccepted:
    """Accept the sign-in code sent to the phone; raises SignInError.

    Failures are counted per client and per phone, like wrong passwords (portal.auth.ratelimits)."""
    from portal.verification.services import CodeError, InvalidCode
    from portal.verification.services import check_code as check

    phone = phone_destination(raw_phone)
    if not ratelimits.hit("sign_in_ip", ip) or not ratelimits.allowed("sign_in_failed_ip", ip) \
            or not ratelimits.allowed("sign_in_code_failed_phone", phone):
        raise too_many_attempts()
    user = _account_of(phone)
    if user is None and not sign_up_enabled():
        _count_failure(phone, ip)
        raise wrong_code()
    try:
        check(PURPOSE, phone, (code or "").strip(), user_id=user.id if user else None)
    except InvalidCode:
        if user is not None:
            from portal.security_log import record

            # The owner sees wrong codes in the security log, as wrong passwords.
            record("sign_in_failed", user, details={"method": "sms_code"})
            db.session.commit()
        _count_failure(phone, ip)
        raise wrong_code() from None
    except CodeError as exc:
        raise SignInError(exc.message) from None
    # The phone's owner is in: earlier wrong guesses no longer count against it.
    ratelimits.clear("sign_in_code_failed_phone", phone)
    return CodeAccepted(phone, user)


def _count_failure(phone: str, ip: str) -> None:
    ratelimits.hit("sign_in_failed_ip", ip)
    ratelimits.hit("sign_in_code_failed_phone", phone)
