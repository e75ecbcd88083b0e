"""The security log: one row per security event, appended and never changed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow

__all__ = ["SecurityEvent"]


class SecurityEvent(db.Model):
    """``kind`` is one of portal.security_log.events.KINDS. The subject (``user_id``) and the
    organization are plain ids, not foreign keys: an event outlives what it names."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_security_events_org_id_created_at", "org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Whose account the event is about; None for an organization's own events.
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    org_id: Mapped[int | None] = mapped_column(BigInteger)
    # Who did it: a user id, or None with actor_kind "operator" (a command) or "system" (a job).
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_kind: Mapped[str] = mapped_column(String(16), default="user")
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    # Structured, never a secret, a code or an ID number (portal.security_log.record drops those).
    details: Mapped[dict] = mapped_column(JSON, default=dict)


@event.listens_for(SecurityEvent, "before_update")
def _append_only_update(_mapper, _connection, target):
    raise RuntimeError("security events are never changed")


@event.listens_for(SecurityEvent, "before_delete")
def _append_only_delete(_mapper, _connection, target):
    raise RuntimeError("security events are removed only by `portal log prune`")
