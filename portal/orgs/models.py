from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(39))
    slug_key: Mapped[str] = mapped_column(String(39), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Deleted organizations are kept for audit; a deleted one is invisible everywhere else.
    deleted_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.slug}>"
