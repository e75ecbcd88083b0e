from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
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
    # Set when its organization is deleted: the ledger credits it nothing more.
    closed_at: Mapped[datetime | None]
    # The paid plan's current period (portal.accounts.renewals): None on a free plan.
    plan_period_start: Mapped[datetime | None]
    plan_renews_at: Mapped[datetime | None] = mapped_column(index=True)
    # A cheaper plan chosen to start when the current period ends.
    next_plan_key: Mapped[str | None] = mapped_column(String(32))
    # A renewal the balance could not pay: until then the plan stays, after it the account falls back
    # to trial.
    grace_until: Mapped[datetime | None]

    user: Mapped[User | None] = relationship()
    org: Mapped[Organization | None] = relationship()

    @property
    def is_personal(self) -> bool:
        return self.user_id is not None

    def __repr__(self) -> str:
        owner = f"user {self.user_id}" if self.is_personal else f"org {self.org_id}"
        return f"<Account {self.id} of {owner}>"


class QuotaUsage(db.Model):
    """How much of one resource an account uses, and the bonus it holds on top of its plan.

    Changed only by ``portal.accounts.quotas``, with conditional updates, so that no two requests
    can both take the last unit."""

    __tablename__ = "quota_usage"
    __table_args__ = (
        UniqueConstraint("account_id", "resource"),
        CheckConstraint("used >= 0", name="used_not_negative"),
        CheckConstraint("bonus >= 0", name="bonus_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    resource: Mapped[str] = mapped_column(String(32))
    used: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus: Mapped[int] = mapped_column(BigInteger, default=0)


class QuotaBonus(db.Model):
    """A grant of extra quota, recorded once per ``key`` forever (retries and races grant nothing)."""

    __tablename__ = "quota_bonuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # {resource: amount}
    grants: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanRenewal(db.Model):
    """One paid period of a plan, charged once: the unique (account, period start) is what makes
    concurrent renewal jobs charge an account once per period."""

    __tablename__ = "plan_renewals"
    __table_args__ = (UniqueConstraint("account_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    plan_key: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    price_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanChange(db.Model):
    """Who moved an account from one plan to another, and when."""

    __tablename__ = "plan_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    from_plan: Mapped[str] = mapped_column(String(32))
    to_plan: Mapped[str] = mapped_column(String(32))
    # What the new plan cost at the time, in fen.
    price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the change applies: now for upgrades, the period's end for downgrades.
    effective_at: Mapped[datetime | None]

    actor: Mapped[User | None] = relationship()
