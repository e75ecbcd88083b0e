"""Bound payout accounts (绑定支付宝) and withdrawals. States change only in ``services``."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db

__all__ = ["PayoutAccount", "Withdrawal"]

BigId = BigInteger().with_variant(Integer, "sqlite")

# 待审核, 打款中, 已到账, 打款失败, 已驳回. Pending and sending hold the amount; failed and rejected
# released it; succeeded made the hold final.
PENDING, SENDING, SUCCEEDED, FAILED, REJECTED = "pending", "sending", "succeeded", "failed", "rejected"
STATES = (PENDING, SENDING, SUCCEEDED, FAILED, REJECTED)
OPEN = (PENDING, SENDING)


class PayoutAccount(db.Model):
    """An account at a payout channel that a user proved is theirs (Alipay: web authorization)."""

    __tablename__ = "payout_accounts"
    __table_args__ = (
        # One account per channel per user, and one channel account binds at most one user.
        UniqueConstraint("user_id", "channel", name="uq_payout_accounts_user_channel"),
        UniqueConstraint("channel", "subject", name="uq_payout_accounts_channel_subject"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The payout channel's name ("alipay").
    channel: Mapped[str] = mapped_column(String(32))
    # Who is paid: Alipay's app-scoped open_id, else its 2088... user_id.
    subject: Mapped[str] = mapped_column(String(128))
    # How the channel names the payee from ``subject`` (ALIPAY_OPEN_ID, ALIPAY_USER_ID).
    subject_type: Mapped[str] = mapped_column(String(32))
    # Alipay's user_id when it gave one besides the open_id.
    channel_user_id: Mapped[str | None] = mapped_column(String(64))
    nickname: Mapped[str | None] = mapped_column(String(64))
    # Shown instead of the subject: never the whole identifier.
    masked: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Withdrawal(db.Model):
    __tablename__ = "withdrawals"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("state IN ('pending', 'sending', 'succeeded', 'failed', 'rejected')", name="known_state"),
        Index("ix_withdrawals_state_id", "state", "id"),
        Index("ix_withdrawals_account_created", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The withdrawal's own unique id, and the channel's idempotency key (Alipay out_biz_no).
    out_biz_no: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    channel: Mapped[str] = mapped_column(String(32))
    # The payee as it was when requested: a later unbinding or rebinding never redirects it.
    payee: Mapped[str] = mapped_column(String(128))
    payee_type: Mapped[str] = mapped_column(String(32))
    payee_masked: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    # Why it was rejected or failed, shown to the user.
    reason: Mapped[str | None] = mapped_column(String(255))
    # The channel's order id and last word (DEALING, an error code), for operators.
    channel_order_id: Mapped[str | None] = mapped_column(String(64))
    channel_status: Mapped[str | None] = mapped_column(String(64))
    # Who decided (an operator's name, or "auto").
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    # The last time the channel was asked to pay it.
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Withdrawal {self.out_biz_no} {self.amount_fen} {self.state}>"
