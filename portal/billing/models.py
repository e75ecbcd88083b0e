"""Money: the ledger, recharge orders, their attempts at a channel, and what channels told us.

Amounts are integer fen everywhere. ``ledger_entries`` is append-only: a balance is the sum of its
account's entries, and ``portal.billing.ledger`` is the only code that writes either.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db

if TYPE_CHECKING:
    from portal.accounts.models import Account

__all__ = ["LedgerEntry", "Order", "OrderAttempt", "PaymentNotification"]

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer, "sqlite")

ENTRY_KINDS = ("recharge", "plan_charge", "adjustment", "refund", "withdrawal_hold", "withdrawal_release")

PENDING, PAID, EXPIRED, CLOSED = "pending", "paid", "expired", "closed"
# Paid at the channel after the order's account was closed: credited to nobody, an operator refunds it.
HELD = "held"
ORDER_STATES = (PENDING, PAID, EXPIRED, CLOSED, HELD)


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
        CheckConstraint(
            "kind IN ('recharge', 'plan_charge', 'adjustment', 'refund', 'withdrawal_hold', 'withdrawal_release')",
            name="known_kind",
        ),
        # An order credits its account once, whatever path reports the payment.
        UniqueConstraint("order_id", "kind"),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
        Index("ix_ledger_entries_account_id_created_at", "account_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # Signed: credits are positive, debits negative.
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The account's balance right after this entry (read from the same UPDATE that applied it), so the
    # statement shows a running balance without summing history.
    balance_after_fen: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    # What else caused it, e.g. "plan:trial->pro" for a plan change.
    reference: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"<LedgerEntry {self.id} account {self.account_id} {self.amount_fen:+d} {self.kind}>"


class Order(db.Model):
    """A recharge: pending until paid, expired or closed (or held, see HELD). States change only in
    orders.py."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("state IN ('pending', 'paid', 'expired', 'closed', 'held')", name="known_state"),
        # One payment at the channel pays one order.
        UniqueConstraint("channel", "transaction_id"),
        Index("ix_orders_account_id_id", "account_id", "id"),
        Index("ix_orders_account_id_created_at", "account_id", "created_at", "id"),
        Index("ix_orders_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    attempts: Mapped[list[OrderAttempt]] = relationship(
        back_populates="order", order_by="OrderAttempt.id", cascade="all, delete-orphan"
    )
    # Read-only: balances change only through portal.billing.ledger.
    account: Mapped[Account] = relationship(viewonly=True)

    @property
    def current_attempt(self) -> OrderAttempt | None:
        return self.attempts[-1] if self.attempts else None

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.channel} {self.amount_fen} {self.state}>"


class OrderAttempt(db.Model):
    """One charge created at the channel for an order; a new one (new out_trade_no) when the old
    QR code expired at the channel. Payments arrive by out_trade_no, so every attempt is kept."""

    __tablename__ = "order_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    # What the QR code encodes; None until the channel accepted the charge.
    qr_payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # The channel stops accepting payment then (never after the order's own expiry).
    channel_expires_at: Mapped[datetime]
    # Set once the channel confirmed it closed this attempt unpaid.
    closed_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="attempts")


class PaymentNotification(db.Model):
    """Every notification a channel sent, verified or not, and what the core did with it."""

    __tablename__ = "payment_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    # credited, duplicate, not_paid, amount_mismatch, unknown_order, wrong_channel, invalid, conflict, held
    outcome: Mapped[str] = mapped_column(String(24))
    out_trade_no: Mapped[str | None] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    detail: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime]
