from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow
from portal.users.models import User

# Display fields come from the provider; they are cut to these lengths, never trusted to be short.
NAME_MAX = 64
AVATAR_URL_MAX = 2048
EMAIL_MAX = 254
SUBJECT_MAX = 255


class Identity(db.Model):
    """A provider account (GitHub, WeChat, ...) linked to a portal user: a way to sign in."""

    __tablename__ = "identities"
    __table_args__ = (
        # One provider account belongs to one portal user; two browsers racing to link it end here.
        UniqueConstraint("provider", "subject"),
        # A user links at most one account of each provider.
        UniqueConstraint("user_id", "provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX))
    name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    avatar_url: Mapped[str | None] = mapped_column(String(AVATAR_URL_MAX))
    # As the provider reported it; never used to match or merge accounts.
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Identity {self.provider}:{self.subject} of user {self.user_id}>"


class LinkedSubject(db.Model):
    """Every provider account that was ever linked, kept after unlinking, so a relink or a move to
    another user is not a "first link" (rewards such as the WeChat bonus are granted once)."""

    __tablename__ = "identity_linked_subjects"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX))
    first_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    first_linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    first_user: Mapped[User | None] = relationship()
