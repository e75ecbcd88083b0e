"""Recovery codes: ten single-use codes that stand in for the authenticator when the phone is lost.

A code is 12 characters from Crockford's base-32 alphabet (60 bits), shown as ``xxxx-xxxx-xxxx``;
typing is forgiving (case, spaces, dashes, I/L for 1, O for 0). Only a SHA-256 of the user id and
the code is stored: 60 random bits need no slow hash. A code is spent by a conditional update, so
two sign-ins racing with one code cannot both pass. A new set replaces the old one entirely.
"""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from portal.extensions import db
from portal.i18n import gettext as _
from portal.mfa import limits
from portal.mfa.errors import SecondFactorError
from portal.mfa.models import RecoveryCode
from portal.timeutil import utcnow

COUNT = 10
LENGTH = 12
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TYPOS = str.maketrans({"i": "1", "l": "1", "o": "0"})


def _hash(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{code}".encode()).hexdigest()


def normalized(code: str) -> str | None:
    """The code as stored, or None when it cannot be one of ours."""
    text = (code or "").strip().lower().replace("-", "").replace(" ", "").translate(_TYPOS)
    if len(text) != LENGTH or any(ch not in ALPHABET for ch in text):
        return None
    return text


def formatted(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, LENGTH, 4))


def generate(user_id: int) -> list[str]:
    """A new set of codes, replacing every old one; returns them for showing once (caller commits)."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(COUNT)]
    db.session.add_all(RecoveryCode(user_id=user_id, code_hash=_hash(user_id, code)) for code in codes)
    return [formatted(code) for code in codes]


def remaining(user_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))) or 0


def use(user_id: int, code: str) -> None:
    """Spend one code, or raise SecondFactorError (counted like a wrong authenticator code). The
    caller commits, records the event and sends the notice."""
    limits.check(user_id)
    text = normalized(code)
    spent = 0
    if text is not None:
        spent = db.session.execute(
            sa.update(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == _hash(user_id, text),
                   RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
    if spent != 1:
        limits.count_failure(user_id)
        raise SecondFactorError(_("The recovery code is wrong or was already used."))
