from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    # NFKC + casefold of the username: what uniqueness is decided on.
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    # None for accounts created by signing in with a provider and never given a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    # E.164, e.g. +8613800138000.
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    phone_verified_at: Mapped[datetime | None]
    locale: Mapped[str | None] = mapped_column(String(8))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Part of the session cookie: bumping it signs the user out everywhere.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    emails: Mapped[list[Email]] = relationship(
        back_populates="user", order_by="Email.id", cascade="all, delete-orphan"
    )

    # Not stored: the device session (portal.devices) the current request belongs to, set by the user
    # loader and at sign-in. It is the third part of the id in the session and remember-me cookies.
    device_session_id = None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}:{self.device_session_id or ''}"

    @property
    def primary_email(self) -> Email | None:
        return next((e for e in self.emails if e.is_primary), None)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


class Email(db.Model):
    """An address a user added. Unverified, it is only a claim: several users may claim one address,
    and no claim blocks anybody. The first to verify owns it (a unique index over verified rows) and
    every other claim on it is dropped."""

    __tablename__ = "emails"
    __table_args__ = (
        UniqueConstraint("user_id", "address_key"),
        Index("uq_emails_verified_address_key", "address_key", unique=True,
              sqlite_where=text("verified_at IS NOT NULL"), postgresql_where=text("verified_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(254))
    # Lower-cased address: a verified email belongs to one user, whatever its case.
    address_key: Mapped[str] = mapped_column(String(254))
    is_primary: Mapped[bool] = mapped_column(default=False)
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="emails")

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None
