"""Recharge orders: pending -> paid | expired | closed, and the only code that changes a state.

Every state change is a conditional ``UPDATE orders ... WHERE state IN (...)`` with a rowcount
check, so concurrent notifications, reconciliation jobs on several machines and the user all race
safely; the unique (channel, transaction_id) backs it up. A payment credits the ledger in the same
transaction as PENDING -> PAID. A late payment (expired or closed order) is still credited: the
money arrived, unless its account was closed (a deleted organization): then the order is HELD, paid
at the channel but credited to nobody, until an operator refunds it.
"""
from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from limits import parse_many
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from portal import ratelimits, timeutil
from portal.accounts.models import Account
from portal.billing import ledger
from portal.billing.channels import ChargeRequest, PaymentChannel
from portal.billing.models import CLOSED, EXPIRED, HELD, PAID, PENDING, Order, OrderAttempt
from portal.extensions import db
from portal.i18n import gettext as _

log = logging.getLogger(__name__)

# The product promise: an unpaid order expires one day after it was created.
ORDER_LIFETIME = timedelta(days=1)
# WeChat Native code_url values stay valid for 2 hours; after that the order gets a new attempt.
CHANNEL_QR_LIFETIME = timedelta(hours=2)
# Re-create a QR this close to its channel expiry rather than show one about to die.
QR_RENEW_MARGIN = timedelta(minutes=2)
# Starting recharges costs a call to the channel each: limited per user and per account
# (RECHARGE_START_LIMITS), and an account holds at most RECHARGE_MAX_PENDING_ORDERS unpaid orders.
DEFAULT_START_LIMITS = "10/minute;60/hour"
DEFAULT_MAX_PENDING_ORDERS = 10

# What apply_payment found.
CREDITED = "credited"
DUPLICATE = "duplicate"
AMOUNT_MISMATCH = "amount_mismatch"
CONFLICT = "conflict"
# The account was closed (its organization deleted): paid at the channel, credited to nobody.
HELD_FOR_OPERATOR = "held"


class OrderNotPayable(Exception):
    """The order is paid, expired or closed (or past its expiry): start a new recharge."""


class TooManyPendingOrders(Exception):
    """The account already holds the most unpaid orders allowed: pay or close one first."""

    def __init__(self, limit: int):
        super().__init__(f"at most {limit} pending orders per account")
        self.limit = limit


class RechargesRateLimited(Exception):
    """Too many recharges started lately by this user or for this account."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many recharges; retry in {retry_after} s")
        self.retry_after = retry_after


class AccountClosed(Exception):
    """The account belongs to a deleted organization: nothing can be paid into it."""


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
    _lock_open_account(account_id)
    limit = int(current_app.config.get("RECHARGE_MAX_PENDING_ORDERS", DEFAULT_MAX_PENDING_ORDERS))
    pending = db.session.scalar(
        sa.select(sa.func.count()).select_from(Order).where(Order.account_id == account_id, Order.state == PENDING)
    )
    if pending >= limit:
        db.session.rollback()
        raise TooManyPendingOrders(limit)
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


def _lock_open_account(account_id: int) -> None:
    """Lock the account's row for this transaction (so concurrent starts count pending orders one
    after the other, and a deletion waits), or raise AccountClosed."""
    locked = db.session.execute(
        sa.update(Account)
        .where(Account.id == account_id, Account.closed_at.is_(None))
        .values(balance_fen=Account.balance_fen)
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount != 1:
        db.session.rollback()
        raise AccountClosed(account_id)


def take_start_allowance(account_id: int, user_id: int | None) -> None:
    """Count one recharge start for the user and for the account, or raise RechargesRateLimited
    (counting nothing) when either is over RECHARGE_START_LIMITS."""
    items = parse_many(current_app.config.get("RECHARGE_START_LIMITS", DEFAULT_START_LIMITS))
    checks = [(item, "recharge-account", str(account_id)) for item in items]
    if user_id is not None:
        checks += [(item, "recharge-user", str(user_id)) for item in items]
    blocked = [(item, ids) for item, *ids in checks if not ratelimits.allowed(item, *ids)]
    if blocked:
        raise RechargesRateLimited(max(ratelimits.retry_after(item, *ids) for item, ids in blocked))
    for item, *ids in checks:
        ratelimits.hit(item, *ids)


def charge_subject(out_trade_no: str) -> str:
    """What the buyer's phone shows, and the channel signs into its notification: the site's name
    and the order number the order page shows, never a name a user chose."""
    site = str(current_app.config.get("SITE_NAME") or "Portal")[:64]
    return _("%(site)s recharge, order %(number)s", site=site, number=out_trade_no)


def notify_url(channel_name: str) -> str:
    """Where channel ``channel_name`` posts its notifications: under BILLING_NOTIFY_BASE_URL when
    the channels reach the portal at an address of their own, else under PUBLIC_URL; never the
    request's host, which the person starting the recharge controls."""
    from portal.urls import public_url

    return public_url("billing.notify", base=current_app.config.get("BILLING_NOTIFY_BASE_URL"),
                      channel_name=channel_name)


def charge(order: Order, channel: PaymentChannel, now: datetime | None = None) -> OrderAttempt:
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
                description=charge_subject(attempt.out_trade_no),
                notify_url=notify_url(channel.name),
                expires_at=attempt.channel_expires_at,
            )
        )
        attempt.qr_payload = result.qr_payload
        db.session.commit()
    return attempt


def start_recharge(account_id: int, channel: PaymentChannel, amount_fen: int,
                   created_by_id: int | None = None, now: datetime | None = None) -> Order:
    """Open a pending order and create its charge at the channel. When the channel refuses, the
    order stays pending without a QR (ChannelError propagates); paying it later asks again.
    Raises RechargesRateLimited, TooManyPendingOrders or AccountClosed before anything is opened."""
    take_start_allowance(account_id, created_by_id)
    order = open_order(account_id, channel.name, amount_fen, created_by_id, now)
    charge(order, channel, now)
    return order


def attempt_by_out_trade_no(out_trade_no: str) -> OrderAttempt | None:
    """The attempt, with its order and the order's account loaded by the same statement (a payment
    notification then reads nothing more before it writes)."""
    return db.session.scalar(_attempt_statement(), {"out_trade_no": out_trade_no})


# Every notification runs these: built once per process, the values bind parameters (building a
# statement cost more than running it).
@functools.cache
def _attempt_statement():
    return (
        sa.select(OrderAttempt)
        .join(OrderAttempt.order)
        .join(Order.account)
        .where(OrderAttempt.out_trade_no == sa.bindparam("out_trade_no"))
        .options(contains_eager(OrderAttempt.order).contains_eager(Order.account))
    )


def _transition(order_id: int, from_states: tuple[str, ...], to_state: str, **values) -> bool:
    statement = _transition_statement(from_states, to_state, tuple(values))
    parameters = {"order_id": order_id, **{f"new_{column}": value for column, value in values.items()}}
    return db.session.execute(statement, parameters).rowcount == 1


@functools.lru_cache(maxsize=16)
def _transition_statement(from_states: tuple[str, ...], to_state: str, columns: tuple[str, ...]):
    # (A column's own name is reserved for the SET clause: its new value is new_<column>.)
    return (
        sa.update(Order)
        .where(Order.id == sa.bindparam("order_id"), Order.state.in_(from_states))
        .values(state=to_state, **{column: sa.bindparam(f"new_{column}", type_=Order.__table__.c[column].type)
                                   for column in columns})
        .execution_options(synchronize_session=False)
    )


def apply_payment(order: Order, transaction_id: str, amount_fen: int, now: datetime | None = None, *,
                  paid_at: datetime | None = None, record: Callable[[str], None] | None = None) -> str:
    """A verified payment of ``amount_fen`` for ``order``: mark it paid and credit its account,
    exactly once. Returns CREDITED, DUPLICATE (this payment was applied before), AMOUNT_MISMATCH
    (never credited), CONFLICT (another payment already paid the order, or this transaction
    id already paid another order: never credited, needs an operator) or HELD_FOR_OPERATOR (the
    account was closed: the order is HELD, never credited, an operator refunds it).

    ``paid_at`` is when the channel says the buyer paid (default: now). ``record(outcome)``, when
    given, adds the caller's audit rows to the session: they commit in the same transaction as
    the outcome (a credit and its record exist together or not at all)."""
    now = now or timeutil.utcnow()
    if type(amount_fen) is not int or amount_fen != order.amount_fen:
        return _finish(AMOUNT_MISMATCH, record)
    order_id, account_id = order.id, order.account_id
    paid = dict(transaction_id=transaction_id, paid_at=paid_at or now)
    try:
        # Expired and closed orders too: the money arrived, so it is credited.
        if _transition(order_id, (PENDING, EXPIRED, CLOSED), PAID, **paid):
            try:
                ledger.credit(account_id, amount_fen, "recharge", order_id=order_id)
            except ledger.AccountClosed:
                db.session.rollback()
                return _hold(order, paid, record)
            _log_recharge(order)
            # The commit expires ``order``: it reloads when next read, so nothing is read back here,
            # after the money has moved.
            return _finish(CREDITED, record)
    except IntegrityError:
        db.session.rollback()
        db.session.refresh(order)
        return _finish(CONFLICT, record)
    db.session.rollback()
    db.session.refresh(order)
    if order.state in (PAID, HELD) and order.transaction_id == transaction_id:
        return _finish(DUPLICATE, record)
    return _finish(CONFLICT, record)


def _log_recharge(order: Order) -> None:
    from portal.security_log import SYSTEM, record as log_event

    # Loaded with the order when a notification found it (attempt_by_out_trade_no).
    account = order.account
    log_event("recharge_paid", user_id=account.user_id, org_id=account.org_id, actor_kind=SYSTEM,
              details={"amount_fen": order.amount_fen, "channel": order.channel, "order": order.id})


def _hold(order: Order, paid: dict, record: Callable[[str], None] | None) -> str:
    """The payment of an order whose account was closed: HELD, credited to nobody, logged loudly."""
    try:
        held = _transition(order.id, (PENDING, EXPIRED, CLOSED), HELD, **paid)
    except IntegrityError:
        db.session.rollback()
        held = False
    if not held:
        db.session.rollback()
        db.session.refresh(order)
        same = order.state in (PAID, HELD) and order.transaction_id == paid["transaction_id"]
        return _finish(DUPLICATE if same else CONFLICT, record)
    log.error(
        "order %s was paid (transaction %s) after its account %s was closed: "  # pragma: no mutate
        "held for an operator",  # pragma: no mutate
        order.id, paid["transaction_id"], order.account_id,
    )
    return _finish(HELD_FOR_OPERATOR, record)


def _finish(outcome: str, record: Callable[[str], None] | None) -> str:
    if record is not None:
        record(outcome)
    db.session.commit()
    return outcome


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


def held(limit: int = 500) -> list[Order]:
    """Orders paid at the channel after their account was closed, oldest first: each needs an
    operator to refund it at the channel."""
    return list(db.session.scalars(sa.select(Order).where(Order.state == HELD).order_by(Order.id).limit(limit)))


def history(account_id: int, before_id: int | None = None, limit: int = 20) -> list[Order]:
    """The account's orders, newest first; keyset pagination on id (page N costs what page 1 does)."""
    query = sa.select(Order).where(Order.account_id == account_id)
    if before_id is not None:
        query = query.where(Order.id < before_id)
    return list(db.session.scalars(query.order_by(Order.id.desc()).limit(limit)))
