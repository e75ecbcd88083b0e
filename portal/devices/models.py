"""Signed-in devices: one row per sign-in, checked on every request."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow

__all__ = ["DeviceSession"]


class DeviceSession(db.Model):
    """A signed-in session. Its ``public_id`` travels in the session and remember-me cookies
    (``<user id>:<session version>:<public id>``); ending the row ends the session on every instance
    at the next request."""

    __tablename__ = "device_sessions"
    __table_args__ = (Index("ix_device_sessions_user_id_ended_at", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # 128 random bits (url-safe base64).
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # "Chrome on Windows", parsed from the user agent when the session started.
    device: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(45))
    # The network the session started from (IPv4 /24, IPv6 /48): a device seen from a new range is
    # announced to the owner.
    ip_range: Mapped[str | None] = mapped_column(String(64))
    # How the user signed in: "password", "provider:github", "passkey", ...
    method: Mapped[str] = mapped_column(String(40), default="password")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Written at most once a minute.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # "sign_out", "revoked", "others_revoked", "password", "operator"
    ended_reason: Mapped[str | None] = mapped_column(String(16))
