"""Verification codes: one mechanism for every purpose (sign-up, password reset, binding an email or
a phone, ...).

A code is 6 digits from ``secrets``, valid 10 minutes (or its purpose's validity), single use and dead after 5 wrong guesses. It
is stored as an HMAC keyed with SECRET_KEY over purpose, destination, user and code, so a database
leak reveals no codes and a code never works for another purpose, address or user. Sending is rate
limited per destination (1/min, 5/h, 10/day: the carriers' own caps for SMS), in Flask-Limiter's
storage, so several workers share the counts when that storage is Redis. The account's owner and
everybody else draw from separate budgets: requests by the signed-in owner of the code (or after the
right password) from one, anonymous and other requesters from the other, also limited per client IP,
so strangers asking for codes to an address never use up its owner's codes.

Each user's pending code at a destination is their own: a code another user asks for at the same
address and purpose never replaces it.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import unicodedata

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale
from limits import parse_many
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal import ratelimits
from portal.extensions import db
from portal.i18n import gettext as _
from portal.net import client_ip
from portal.plugins import DeliveryError, hook
from portal.timeutil import utcnow
from portal.verification import purposes
from portal.verification.models import VerificationCode

CODE_DIGITS = 6
CODE_TTL = purposes.DEFAULT_VALIDITY
MAX_ATTEMPTS = 5
# Operators may tighten or loosen these (limits' syntax, ";"-separated).
DEFAULT_SEND_LIMITS = "1/minute;5/hour;10/day"
DEFAULT_SEND_LIMITS_PER_IP = "20/hour"

PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
PURPOSE = re.compile(r"[a-z][a-z0-9_.-]{0,39}")
CODE = re.compile(r"[0-9]{6}")


class CodeError(ValueError):
    """A code could not be sent or accepted; ``message`` is a translated sentence for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RateLimited(CodeError):
    """Too many codes were sent; ``retry_after`` is how many seconds until the next one may go."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class InvalidCode(CodeError):
    """The code is wrong, expired, used, dead, or was sent for another purpose or user."""


def channel_for(destination: str) -> str:
    return "email" if "@" in destination else "sms"


def take_send_allowance(destination: str) -> None:
    """Count one send to ``destination`` in everybody else's budget (and the client's), or raise
    RateLimited, without sending anything. For answers that must not show whether an account uses
    the destination: take it for every address, then send with ``allowance_taken`` where there is one."""
    _take_send_allowance(_normalized_destination(destination), None)


def send_code(purpose: str, destination: str, user_id: int | None = None, for_owner: bool | None = None,
              shown_as: str | None = None, allowance_taken: bool = False) -> None:
    """Make a new code for ``purpose`` at ``destination`` and deliver it.

    Replaces the user's earlier code for the same purpose and destination, and commits the session.
    ``for_owner``: the request comes from the account's owner (default: the signed-in user is
    ``user_id``), so it draws on the owner's budget. ``shown_as``: the purpose the message names, when
    it is not ``purpose`` itself (the email code of a sign-up is for "signing up").
    ``allowance_taken``: ``take_send_allowance`` already counted this send. Raises RateLimited,
    CodeError for a malformed destination, or DeliveryError when no plugin delivered it."""
    _check_purpose(purpose)
    if for_owner is None:
        for_owner = _signed_in_as(user_id)
    # Outside a request (commands, jobs) there is no browser to pick a language: use the user's.
    locale = _message_locale(user_id)
    with force_locale(locale):
        _send_code(purpose, destination, user_id, locale, for_owner, shown_as, allowance_taken)


def _signed_in_as(user_id: int | None) -> bool:
    if user_id is None or not has_request_context():
        return False
    from flask_login import current_user

    return bool(current_user and current_user.is_authenticated and current_user.id == user_id)


def check_code(purpose: str, destination: str, code: str, user_id: int | None = None) -> None:
    """Accept ``code`` once: mark it used, or raise InvalidCode saying why it was refused.

    Commits the session (a wrong guess must count even when the caller then rolls back), so call
    it before making the change the code authorizes."""
    with force_locale(_message_locale(user_id)):
        _check_code(purpose, destination, code, user_id)


def _send_code(purpose: str, destination: str, user_id: int | None, locale: str, for_owner: bool,
               shown_as: str | None, allowance_taken: bool) -> None:
    destination = _normalized_destination(destination)
    channel = channel_for(destination)
    if not allowance_taken:
        _take_send_allowance(destination, user_id if for_owner else None)

    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    ttl = purposes.validity(purpose)
    _store_code(purpose, destination, channel, user_id, _code_hash(purpose, destination, user_id, code), ttl)

    site = current_app.config.get("SITE_NAME", "Portal")
    minutes = int(ttl.total_seconds() // 60)
    purpose_label = purposes.label(shown_as or purpose)
    if purpose_label:
        subject = _("%(site)s verification code for %(purpose)s", site=site, purpose=purpose_label)
        body = _(
            "Your %(site)s verification code for %(purpose)s is %(code)s. It is valid for %(minutes)d "
            "minutes. Never share it with anyone. If you did not ask for it, ignore this message.",
            site=site, purpose=purpose_label, code=code, minutes=minutes,
        )
    else:
        subject = _("%(site)s verification code", site=site)
        body = _(
            "Your %(site)s verification code is %(code)s. It is valid for %(minutes)d minutes. "
            "Never share it with anyone. If you did not ask for it, ignore this message.",
            site=site, code=code, minutes=minutes,
        )
    delivered = hook().portal_send_verification_code(
        channel=channel, destination=destination, code=code, purpose=purpose, locale=locale,
        subject=subject, body=body, purpose_label=purpose_label or _("verification"), minutes=minutes,
    )
    if not delivered:
        raise DeliveryError(f"no plugin delivers verification codes by {channel}")


def _check_code(purpose: str, destination: str, code: str, user_id: int | None) -> None:
    code = unicodedata.normalize("NFKC", code or "").strip().replace(" ", "")
    if not CODE.fullmatch(code):
        raise InvalidCode(_("Enter the 6-digit verification code."))
    try:
        destination = _normalized_destination(destination)
    except CodeError:
        raise InvalidCode(_("The verification code is incorrect.")) from None
    row = db.session.execute(
        db.select(VerificationCode).filter_by(purpose=purpose, destination=destination, user_id=user_id)
    ).scalar_one_or_none()
    if row is None:
        raise InvalidCode(_("The verification code is incorrect. Please request a new one."))
    if row.used_at is not None:
        raise InvalidCode(_("This verification code has already been used. Please request a new one."))
    if row.expires_at <= utcnow():
        raise InvalidCode(_("This verification code has expired. Please request a new one."))

    row_id, code_hash, tries_before = row.id, row.code_hash, row.attempts
    # Claim a guess before comparing: concurrent guesses can never exceed MAX_ATTEMPTS.
    claimed = db.session.execute(
        update(VerificationCode)
        .where(VerificationCode.id == row_id, VerificationCode.code_hash == code_hash,
               VerificationCode.used_at.is_(None), VerificationCode.attempts < MAX_ATTEMPTS)
        .values(attempts=VerificationCode.attempts + 1)
    ).rowcount
    db.session.commit()
    dead = _("Too many wrong attempts: this code no longer works. Please request a new one.")
    if not claimed:
        raise InvalidCode(dead)

    if not hmac.compare_digest(code_hash, _code_hash(purpose, destination, user_id, code)):
        raise InvalidCode(dead if tries_before + 1 >= MAX_ATTEMPTS else _("The verification code is incorrect."))

    consumed = db.session.execute(
        update(VerificationCode)
        .where(VerificationCode.id == row_id, VerificationCode.code_hash == code_hash,
               VerificationCode.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    db.session.commit()
    if not consumed:
        raise InvalidCode(_("This verification code has already been used. Please request a new one."))


def _check_purpose(purpose: str) -> None:
    # Purposes come from code, never from the request: a bad one is a programming error.
    if not isinstance(purpose, str) or not PURPOSE.fullmatch(purpose):
        raise ValueError(f"invalid verification purpose {purpose!r}")


def _normalized_destination(destination: str) -> str:
    destination = (destination or "").strip()
    if "@" in destination:
        if destination.count("@") != 1 or len(destination) > 254 or "\x00" in destination:
            raise CodeError(_("Enter a valid email address."))
        return destination.lower()
    if not PHONE.fullmatch(destination):
        raise CodeError(_("Enter a valid phone number."))
    return destination


def _code_hash(purpose: str, destination: str, user_id: int | None, code: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    message = "\x00".join(("verification-code", purpose, destination, str(user_id or ""), code))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _store_code(purpose, destination, channel, user_id, code_hash, ttl) -> None:
    now = utcnow()
    values = dict(channel=channel, user_id=user_id, code_hash=code_hash, attempts=0,
                  created_at=now, expires_at=now + ttl, used_at=None)
    replace = (
        update(VerificationCode)
        .where(VerificationCode.purpose == purpose, VerificationCode.destination == destination,
               VerificationCode.user_id.is_(None) if user_id is None else VerificationCode.user_id == user_id)
        .values(**values)
    )
    if db.session.execute(replace).rowcount == 0:
        db.session.add(VerificationCode(purpose=purpose, destination=destination, **values))
        try:
            db.session.commit()
            return
        except IntegrityError:
            # Another request inserted the first code for this destination at the same moment;
            # anything else (an unknown user_id) is the caller's error and must not pass silently.
            db.session.rollback()
            if db.session.execute(replace).rowcount == 0:
                raise
    db.session.commit()


def _message_locale(user_id: int | None) -> str:
    """The language for the message: the request's, else the user's, else the site's default.

    Returned as a key of LANGUAGES ("zh_CN", "en"), the form plugins compare against."""
    languages = current_app.config.get("LANGUAGES") or {}
    if has_request_context():
        language = get_locale().language
        return next((key for key in languages if key.split("_")[0] == language), _default_locale())
    if user_id is not None:
        from portal.users.models import User

        user = db.session.get(User, user_id)
        if user is not None and user.locale in languages:
            return user.locale
    return _default_locale()


def _default_locale() -> str:
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")


def _take_send_allowance(destination: str, owner_id: int | None) -> None:
    """Count one send against the destination's limits in its owner's budget (``owner_id``: the
    request is that user's own) or in everybody else's (and then the client's), or raise RateLimited."""
    for_owner = owner_id is not None
    budget = f"owner:{owner_id}" if for_owner else "others"
    checks = [
        (item, "verification-send-destination", budget, destination)
        for item in parse_many(current_app.config.get("VERIFICATION_SEND_LIMITS", DEFAULT_SEND_LIMITS))
    ]
    if has_request_context() and not for_owner:
        checks += [
            (item, "verification-send-ip", client_ip())
            for item in parse_many(
                current_app.config.get("VERIFICATION_SEND_LIMITS_PER_IP", DEFAULT_SEND_LIMITS_PER_IP)
            )
        ]
    # Test every limit before counting, so a refused send uses up none of the others.
    blocked = [(item, ids) for item, *ids in checks if not ratelimits.allowed(item, *ids)]
    if blocked:
        raise _rate_limited(max(ratelimits.retry_after(item, *ids) for item, ids in blocked))
    for item, *ids in checks:
        if not ratelimits.hit(item, *ids):
            raise _rate_limited(ratelimits.retry_after(item, *ids))


def _rate_limited(retry_after: int) -> RateLimited:
    if retry_after <= 90:
        message = _("Too many codes were requested. Please try again in %(seconds)d seconds.",
                    seconds=retry_after)
    else:
        message = _("Too many codes were requested. Please try again in %(minutes)d minutes.",
                    minutes=math.ceil(retry_after / 60))
    return RateLimited(message, retry_after)
