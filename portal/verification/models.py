"""One-time verification codes: what was sent where, for what, and how many guesses it took."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow


class VerificationCode(db.Model):
    """A user's live code for one purpose at one destination.

    One row per (purpose, destination, user): sending a new code overwrites the row, which is how a
    newer code replaces the older one; another user's code at the same address is another row. The code itself is never stored, only an HMAC of it bound to the
    purpose, destination and user."""

    __tablename__ = "verification_codes"
    __table_args__ = (
        UniqueConstraint("purpose", "destination", "user_id"),
        # NULLs are distinct in a unique constraint, so the row of a code sent to nobody's account
        # (sign-up, forgotten password) needs its own index, or concurrent first sends each insert one.
        Index("uq_verification_codes_anonymous", "purpose", "destination", unique=True,
              sqlite_where=text("user_id IS NULL"), postgresql_where=text("user_id IS NULL")),
    )

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
