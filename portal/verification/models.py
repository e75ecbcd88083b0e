"""One-time verification codes: what was sent where, for what, and how many guesses it took."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow


class VerificationCode(db.Model):
    """The live code for one purpose at one destination.

    One row per (purpose, destination): sending a new code overwrites the row, which is how a newer
    code replaces the older one. The code itself is never stored, only an HMAC of it bound to the
    purpose, destination and user."""

    __tablename__ = "verification_codes"
    __table_args__ = (UniqueConstraint("purpose", "destination"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    # Lower-cased email address, or an E.164 phone number.
    destination: Mapped[str] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    # Guesses made against this code, the right one included; at the limit the code is dead.
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<VerificationCode {self.purpose} {self.channel} {self.id}>"
