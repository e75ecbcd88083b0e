"""The authenticator app (TOTP, RFC 6238: 6 digits, 30-second steps, SHA-1, as every app expects).

Tolerance: a code of the current step, the previous one or the next one is accepted (±30 s), which
covers a phone clock that drifts and a code typed just as it changed; nothing older or newer. A code
is accepted once: the last accepted step is stored and only a later step passes, by a conditional
update, so the same code replayed to another instance (or twice at once) fails.

The secret is sealed with the personal-data key ring (portal.crypto, AES-GCM, rotatable:
``portal users rotate-2fa-key`` re-seals every secret with the current key).

Enrolment: ``start_enrolment`` keeps an unconfirmed authenticator whose nonce only the starting
session holds; the first right code, from that session, within 15 minutes, confirms it.
"""
from __future__ import annotations

import functools
import hmac
import secrets
from datetime import timedelta

import pyotp
import pyotp.exceptions
import sqlalchemy as sa

from portal import crypto
from portal.extensions import db
from portal.i18n import gettext as _
from portal.mfa import limits
from portal.mfa.errors import SecondFactorError
from portal.mfa.models import TotpAuthenticator
from portal.timeutil import utcnow

STEP_SECONDS = 30
DIGITS = 6
TOLERANCE_STEPS = 1
ENROLMENT_MINUTES = 15
# Binds each sealed secret to this column (portal.crypto): a value copied elsewhere does not open.
SECRET_CONTEXT = "mfa.totp_secret"


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def authenticator(user_id: int) -> TotpAuthenticator | None:
    """The user's confirmed authenticator, if any."""
    return db.session.scalar(_authenticator_statement(), {"user_id": user_id})


@functools.cache
def _authenticator_statement() -> sa.Select:
    # Every sign-in asks: built once per process, the user a bind parameter.
    return sa.select(TotpAuthenticator).where(
        TotpAuthenticator.user_id == sa.bindparam("user_id"), TotpAuthenticator.confirmed_at.is_not(None))


def start_enrolment(user) -> str:
    """Begin (or begin again) enrolling an authenticator; returns the nonce the session keeps.
    The caller has checked that the user has none yet and may have one."""
    db.session.execute(sa.delete(TotpAuthenticator).where(
        TotpAuthenticator.user_id == user.id, TotpAuthenticator.confirmed_at.is_(None)))
    nonce = secrets.token_urlsafe(32)
    db.session.add(TotpAuthenticator(user_id=user.id, secret_encrypted=_seal(pyotp.random_base32()),
                                     enrolment_nonce=nonce))
    db.session.commit()
    return nonce


def pending(user_id: int, nonce: str | None) -> TotpAuthenticator | None:
    """The unconfirmed authenticator this session started, while it may still be confirmed."""
    if not nonce:
        return None
    row = db.session.scalar(sa.select(TotpAuthenticator).where(
        TotpAuthenticator.user_id == user_id, TotpAuthenticator.confirmed_at.is_(None)))
    if row is None or not row.enrolment_nonce or not hmac.compare_digest(row.enrolment_nonce, nonce):
        return None
    if row.created_at < utcnow() - timedelta(minutes=ENROLMENT_MINUTES):
        return None
    return row


def _seal(secret: str) -> str:
    return crypto.keyring().encrypt(secret, SECRET_CONTEXT)


def secret_of(row: TotpAuthenticator) -> str:
    return crypto.keyring().decrypt(row.secret_encrypted, SECRET_CONTEXT)


def reencrypt_all() -> int:
    """Seal every secret with the current key (after a new key was put first); returns how many
    changed. Old keys can leave PERSONAL_DATA_KEYS once this has run."""
    ring, changed = crypto.keyring(), 0
    for row in db.session.scalars(sa.select(TotpAuthenticator)):
        if not ring.is_current(row.secret_encrypted):
            row.secret_encrypted = ring.reencrypt(row.secret_encrypted, SECRET_CONTEXT)
            changed += 1
    db.session.commit()
    return changed


def provisioning_uri(row: TotpAuthenticator, account_name: str, issuer: str) -> str:
    return _totp(secret_of(row)).provisioning_uri(name=account_name, issuer_name=issuer)


def _normalized(code: str) -> str | None:
    code = (code or "").replace(" ", "").replace("-", "")
    return code if len(code) == DIGITS and code.isascii() and code.isdigit() else None


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    try:
        return _totp(secret).verify_and_get_timecode(code, for_time=now, valid_window=TOLERANCE_STEPS)
    except pyotp.exceptions.OTPVerificationError:
        return None


def _accept(row: TotpAuthenticator, code: str, now: float | None = None) -> None:
    """Take ``code`` for ``row`` once, or raise SecondFactorError (counted as a wrong code)."""
    limits.check(row.user_id)
    normalized = _normalized(code)
    step = _matching_step(secret_of(row), normalized, now) if normalized else None
    if step is None:
        limits.count_failure(row.user_id)
        raise SecondFactorError(_("The code is wrong. Enter the 6-digit code your authenticator app shows now."))
    taken = db.session.execute(
        sa.update(TotpAuthenticator)
        .where(TotpAuthenticator.id == row.id,
               sa.or_(TotpAuthenticator.last_time_step.is_(None), TotpAuthenticator.last_time_step < step))
        .values(last_time_step=step)
    ).rowcount
    if taken != 1:
        limits.count_failure(row.user_id)
        raise SecondFactorError(_("This code was already used. Wait for the next code and enter it."))


def confirm_enrolment(row: TotpAuthenticator, code: str, now: float | None = None) -> None:
    """The first code confirms the authenticator (the caller commits, with the recovery codes)."""
    _accept(row, code, now)
    db.session.execute(sa.update(TotpAuthenticator).where(TotpAuthenticator.id == row.id)
                       .values(confirmed_at=utcnow(), enrolment_nonce=None))


def verify(user_id: int, code: str, now: float | None = None) -> None:
    """Accept ``code`` from the user's confirmed authenticator once (the caller commits)."""
    row = authenticator(user_id)
    if row is None:
        raise SecondFactorError(_("Your account has no authenticator app."))
    _accept(row, code, now)
