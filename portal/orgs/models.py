from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow
from portal.users.models import User

ROLES = ("owner", "admin", "member")
DESCRIPTION_MAX = 200


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(39))
    slug_key: Mapped[str] = mapped_column(String(39), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    # 组织信息: shown to members; changed by owners and admins (portal.orgs.services.update_profile).
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_MAX))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Owners and admins must have two-factor sign-in on (set by an operator: `portal orgs require-2fa`).
    require_2fa: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Deleted organizations are kept for audit; a deleted one is invisible everywhere else.
    deleted_at: Mapped[datetime | None]
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.slug}>"


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # One of ROLES.
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org: Mapped[Organization] = relationship()
    user: Mapped[User] = relationship()


class Invitation(db.Model):
    """An invitation to join an organization, answered once by the invitee."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    # An invitation by username names the user; one by email names only the address (lower-cased), and
    # whoever verifies that address may accept it: nobody learns whether the address has an account.
    invitee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    invitee_email: Mapped[str | None] = mapped_column(String(254), index=True)
    inviter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16), default="member")
    # pending -> accepted | declined | cancelled, exactly once.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # "<org id>:<invitee id>" (or "<org id>:<address>") while pending, NULL afterwards: at most one pending invitation per
    # person and organization, even when two admins invite at the same moment.
    pending_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]

    org: Mapped[Organization] = relationship()
    invitee: Mapped[User | None] = relationship(foreign_keys=[invitee_id])
    inviter: Mapped[User | None] = relationship(foreign_keys=[inviter_id])
