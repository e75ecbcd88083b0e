"""Asking the channels what happened: notifications get lost, so pending orders are queried, and an
order is expired only after its channel closed it and a second query (after the close: a payment
can race it) still says unpaid.

Safe to run on several machines at once: closing at the channel is idempotent and every state
change is a conditional update in portal.billing.orders.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from portal import timeutil
from portal.billing import orders
from portal.billing.channels import ChannelError, PaymentChannel, PaymentStatus, payment_channels
from portal.billing.models import PENDING, Order, OrderAttempt
from portal.extensions import db

log = logging.getLogger(__name__)

# States a channel's query may report for an attempt that can no longer be paid ("refunded": it was
# paid and the money went back, so it is never credited).
GONE = ("closed", "not_found", "refunded")


@dataclass
class Report:
    checked: int = 0
    credited: int = 0
    expired: int = 0
    # Orders a run could not settle (channel unreachable, still payable, anomalies), with why.
    problems: list[str] = field(default_factory=list)


def settle(order: Order, attempt: OrderAttempt, status: PaymentStatus, now: datetime) -> str | None:
    """Apply what a query said about one attempt; the outcome of apply_payment when it was paid
    (paid at the channel's payment time, not now)."""
    if status.state == "refunded":
        log.error("query of %s (order %s): paid and refunded at the channel, never credited",
                  attempt.out_trade_no, order.id)
    if status.state != "paid":
        return None
    outcome = orders.apply_payment(order, status.transaction_id, status.amount_fen, now, paid_at=status.paid_at)
    if outcome not in (orders.CREDITED, orders.DUPLICATE):
        log.error("query of %s (order %s) reported %s", attempt.out_trade_no, order.id, outcome)
    return outcome


def close_attempt(order: Order, attempt: OrderAttempt, channel: PaymentChannel, now: datetime) -> str | None:
    """Close ``attempt`` at the channel, then re-query: settle it if it was paid (returning what
    apply_payment said), otherwise mark it closed. Raises ChannelError when the channel cannot
    confirm the attempt is closed."""
    try:
        channel.close(attempt.out_trade_no)
    except ChannelError as exc:
        # Some channels refuse to close what was never scanned or is already paid; the query
        # below tells which.
        log.info("close of %s answered %s", attempt.out_trade_no, exc.code or exc)
    status = channel.query(attempt.out_trade_no)
    if status.state == "paid":
        return settle(order, attempt, status, now)
    if status.state not in GONE:
        raise ChannelError(f"{attempt.out_trade_no} is still {status.state} after closing", code=status.state)
    attempt.closed_at = now
    db.session.commit()
    return None


def cancel(order: Order, channel: PaymentChannel, now: datetime | None = None) -> str:
    """The user gives up on a pending order: close every attempt at the channel (re-querying each),
    then PENDING -> CLOSED. Returns the order's state afterwards: "paid" when a payment won the
    race (it was credited), "closed" otherwise. Raises ChannelError when the channel cannot
    confirm, and then nothing changes."""
    now = now or timeutil.utcnow()
    for attempt in _open_attempts(order):
        close_attempt(order, attempt, channel, now)
        if order.state != PENDING:
            return order.state
    orders.close(order, now)
    return order.state


def _open_attempts(order: Order) -> list[OrderAttempt]:
    return [a for a in order.attempts if a.closed_at is None]


def reconcile_pending(now: datetime | None = None, limit: int = 500) -> Report:
    """Query the channel about every pending order's open attempts and credit the paid ones."""
    now = now or timeutil.utcnow()
    report = Report()
    channels = payment_channels()
    for order in _pending(sa.true(), limit):
        report.checked += 1
        channel = channels.get(order.channel)
        if channel is None:
            report.problems.append(f"order {order.id}: channel {order.channel!r} is not enabled")
            continue
        for attempt in _open_attempts(order):
            try:
                outcome = settle(order, attempt, channel.query(attempt.out_trade_no), now)
            except ChannelError as exc:
                report.problems.append(f"order {order.id}: query failed: {exc}")
                continue
            if outcome == orders.CREDITED:
                report.credited += 1
            elif outcome not in (None, orders.DUPLICATE):
                report.problems.append(f"order {order.id}: {outcome}")
            if order.state != PENDING:
                break
    return report


def expire_due(now: datetime | None = None, limit: int = 500) -> Report:
    """Expire pending orders past their expiry: query, close at the channel, re-query, expire."""
    now = now or timeutil.utcnow()
    report = Report()
    channels = payment_channels()
    for order in _pending(Order.expires_at <= now, limit):
        report.checked += 1
        channel = channels.get(order.channel)
        if channel is None:
            report.problems.append(f"order {order.id}: channel {order.channel!r} is not enabled")
            continue
        try:
            for attempt in _open_attempts(order):
                if attempt.qr_payload is not None:
                    outcome = settle(order, attempt, channel.query(attempt.out_trade_no), now)
                    if outcome == orders.CREDITED:
                        report.credited += 1
                    if order.state != PENDING:
                        break
                if close_attempt(order, attempt, channel, now) == orders.CREDITED:
                    report.credited += 1
                if order.state != PENDING:
                    break
        except ChannelError as exc:
            report.problems.append(f"order {order.id}: left pending: {exc}")
            continue
        if order.state == PENDING and orders.expire(order, now):
            report.expired += 1
    return report


def _pending(condition, limit: int) -> list[Order]:
    return list(
        db.session.scalars(
            sa.select(Order).where(Order.state == PENDING, condition).order_by(Order.id).limit(limit)
        )
    )
