"""Recharge orders: pending -> paid | expired | closed, and the only code that changes a state.

Every state change is a conditional ``UPDATE orders ... WHERE state IN (...)`` with a rowcount
check, so concurrent notifications, reconciliation jobs on several machines and the user all race
safely; the unique (channel, transaction_id) backs it up. A payment credits the ledger in the same
transaction as PENDING -> PAID. A late payment (expired or closed order) is still credited: the
money arrived.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal import timeutil
from portal.billing import ledger
from portal.billing.channels import ChargeRequest, PaymentChannel
from portal.billing.models import CLOSED, EXPIRED, PAID, PENDING, Order, OrderAttempt
from portal.extensions import db

# The product promise: an unpaid order expires one day after it was created.
ORDER_LIFETIME = timedelta(days=1)
# WeChat Native code_url values stay valid for 2 hours; after that the order gets a new attempt.
CHANNEL_QR_LIFETIME = timedelta(hours=2)
# Re-create a QR this close to its channel expiry rather than show one about to die.
QR_RENEW_MARGIN = timedelta(minutes=2)

# What apply_payment found.
CREDITED = "credited"
DUPLICATE = "duplicate"
AMOUNT_MISMATCH = "amount_mismatch"
CONFLICT = "conflict"


class OrderNotPayable(Exception):
    """The order is paid, expired or closed (or past its expiry): start a new recharge."""


def new_out_trade_no(now: datetime) -> str:
    # 24 chars of [0-9a-f]: fits WeChat (6-32 [0-9A-Za-z_*-]) and Alipay (<= 64).
    return f"{now:%Y%m%d}{secrets.token_hex(8)}"


def _new_attempt(order: Order, now: datetime) -> OrderAttempt:
    attempt = OrderAttempt(
        out_trade_no=new_out_trade_no(now),
        created_at=now,
        channel_expires_at=min(now + CHANNEL_QR_LIFETIME, order.expires_at),
    )
    order.attempts.append(attempt)
    return attempt


def open_order(account_id: int, channel: str, amount_fen: int, created_by_id: int | None = None,
               now: datetime | None = None) -> Order:
    """A pending order with its first attempt, committed before the channel hears of it (so a
    notification can never arrive for an order we do not know)."""
    if type(amount_fen) is not int or amount_fen <= 0:
        raise ValueError(f"amount must be a positive integer of fen, not {amount_fen!r}")
    now = now or timeutil.utcnow()
    order = Order(
        account_id=account_id,
        created_by_id=created_by_id,
        channel=channel,
        amount_fen=amount_fen,
        state=PENDING,
        created_at=now,
        expires_at=now + ORDER_LIFETIME,
    )
    _new_attempt(order, now)
    db.session.add(order)
    db.session.commit()
    return order


def charge(order: Order, channel: PaymentChannel, description: str, notify_url: str,
           now: datetime | None = None) -> OrderAttempt:
    """Make sure the order has a payable QR at the channel and return that attempt.

    Reuses the current attempt while its QR is valid; asks the channel again with the same
    out_trade_no when it never answered (the channels treat that as idempotent); when the QR
    expired at the channel, closes that attempt there (settling it if it was paid meanwhile) and
    starts a new one with a fresh out_trade_no. Raises OrderNotPayable when the order is no longer
    pending (it may just have been paid), ChannelError when the channel refuses."""
    now = now or timeutil.utcnow()
    if order.state != PENDING or order.expires_at <= now:
        raise OrderNotPayable(order.id)
    attempt = order.current_attempt
    if attempt.closed_at is not None or attempt.channel_expires_at - QR_RENEW_MARGIN <= now:
        if attempt.closed_at is None:
            from portal.billing.reconcile import close_attempt

            close_attempt(order, attempt, channel, now)
            if order.state != PENDING:
                raise OrderNotPayable(order.id)
        attempt = _new_attempt(order, now)
        db.session.commit()
    if attempt.qr_payload is None:
        result = channel.create_charge(
            ChargeRequest(
                out_trade_no=attempt.out_trade_no,
                amount_fen=order.amount_fen,
                description=description,
                notify_url=notify_url,
                expires_at=attempt.channel_expires_at,
            )
        )
        attempt.qr_payload = result.qr_payload
        db.session.commit()
    return attempt


def start_recharge(account_id: int, channel: PaymentChannel, amount_fen: int, description: str,
                   notify_url: str, created_by_id: int | None = None,
                   now: datetime | None = None) -> Order:
    """Open a pending order and create its charge at the channel. When the channel refuses, the
    order stays pending without a QR (ChannelError propagates); paying it later asks again."""
    order = open_order(account_id, channel.name, amount_fen, created_by_id, now)
    charge(order, channel, description, notify_url, now)
    return order


def attempt_by_out_trade_no(out_trade_no: str) -> OrderAttempt | None:
    return db.session.scalar(sa.select(OrderAttempt).filter_by(out_trade_no=out_trade_no))


def _transition(order_id: int, from_states: tuple[str, ...], to_state: str, **values) -> bool:
    result = db.session.execute(
        sa.update(Order)
        .where(Order.id == order_id, Order.state.in_(from_states))
        .values(state=to_state, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def apply_payment(order: Order, transaction_id: str, amount_fen: int, now: datetime | None = None) -> str:
    """A verified payment of ``amount_fen`` for ``order``: mark it paid and credit its account,
    exactly once. Returns CREDITED, DUPLICATE (this payment was applied before), AMOUNT_MISMATCH
    (never credited) or CONFLICT (another payment already paid the order, or this transaction
    id already paid another order: never credited, needs an operator)."""
    if type(amount_fen) is not int or amount_fen != order.amount_fen:
        return AMOUNT_MISMATCH
    now = now or timeutil.utcnow()
    order_id, account_id = order.id, order.account_id
    try:
        # Expired and closed orders too: the money arrived, so it is credited.
        if _transition(order_id, (PENDING, EXPIRED, CLOSED), PAID, transaction_id=transaction_id,
                       paid_at=now):
            ledger.credit(account_id, amount_fen, "recharge", order_id=order_id)
            db.session.commit()
            db.session.refresh(order)
            return CREDITED
    except IntegrityError:
        db.session.rollback()
        db.session.refresh(order)
        return CONFLICT
    db.session.rollback()
    db.session.refresh(order)
    if order.state == PAID and order.transaction_id == transaction_id:
        return DUPLICATE
    return CONFLICT


def expire(order: Order, now: datetime | None = None) -> bool:
    """PENDING -> EXPIRED. Callers first make sure the channel will not take the payment
    (portal.billing.reconcile); a payment that still arrives is credited by apply_payment."""
    changed = _transition(order.id, (PENDING,), EXPIRED, ended_at=now or timeutil.utcnow())
    db.session.commit()
    db.session.refresh(order)
    return changed


def close(order: Order, now: datetime | None = None) -> bool:
    """PENDING -> CLOSED: the user gave up on the order (after the channel closed it)."""
    changed = _transition(order.id, (PENDING,), CLOSED, ended_at=now or timeutil.utcnow())
    db.session.commit()
    db.session.refresh(order)
    return changed


def get_order(order_id: int) -> Order | None:
    return db.session.get(Order, order_id)


def history(account_id: int, before_id: int | None = None, limit: int = 20) -> list[Order]:
    """The account's orders, newest first; keyset pagination on id (page N costs what page 1 does)."""
    query = sa.select(Order).where(Order.account_id == account_id)
    if before_id is not None:
        query = query.where(Order.id < before_id)
    return list(db.session.scalars(query.order_by(Order.id.desc()).limit(limit)))
