from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.orgs.models import Organization
from portal.timeutil import utcnow
from portal.users.models import User


class Account(db.Model):
    """What balances, quotas, plans and orders hang off: owned by one user or one organization."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (org_id IS NULL)", name="one_owner"),
        CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), unique=True)
    # Integer fen. Changed only by portal.billing.ledger, together with a ledger entry.
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    plan_key: Mapped[str] = mapped_column(String(32), default="trial")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()
    org: Mapped[Organization | None] = relationship()

    @property
    def is_personal(self) -> bool:
        return self.user_id is not None

    def __repr__(self) -> str:
        owner = f"user {self.user_id}" if self.is_personal else f"org {self.org_id}"
        return f"<Account {self.id} of {owner}>"
