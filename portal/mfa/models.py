"""Second factors: the authenticator app (TOTP), recovery codes and passkeys."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow

__all__ = ["TotpAuthenticator", "RecoveryCode", "Passkey"]


class TotpAuthenticator(db.Model):
    """A user's authenticator app. One per user; unconfirmed while ``confirmed_at`` is None (the
    enrolment waits for its first code, in the session that started it)."""

    __tablename__ = "totp_authenticators"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    # The base32 secret, encrypted by portal.crypto (rotatable keys); never shown after enrolment.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # Random; only the session that started the enrolment holds it, so only it can finish it.
    enrolment_nonce: Mapped[str | None] = mapped_column(String(64))
    # The last accepted 30-second time step: a code of this step or an earlier one is refused, so a
    # seen code cannot be replayed, whichever instance it reaches.
    last_time_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(db.Model):
    """One of the ten single-use codes that stand in for the authenticator; only a hash is kept."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class Passkey(db.Model):
    """A WebAuthn credential (a passkey or a security key) with the label its owner gave it."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The authenticator's signature counter; an assertion whose counter did not grow (when it
    # counts at all) comes from a cloned key and is refused.
    sign_count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    # Usable for signing in without a username (a discoverable credential).
    discoverable: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
