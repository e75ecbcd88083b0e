"""Refunds (退款): an operator gives all or part of a paid recharge back through the channel that took it.

The money must still be there: requesting a refund debits the account (ledger kind "refund", reference
"refund:<out_refund_no>") in the same transaction as the Refund row, under a lock on the order's row,
so the refunds of an order never add up to more than was paid, whatever runs at once. Only then is the
channel asked. A definite refusal releases the debit (a "refund" credit, reference
"refund-released:<out_refund_no>"); an unknown answer (timeout, 5xx) leaves the refund "sending" until
a query (``reconcile``) or the channel's notification settles it, always with the same out_refund_no,
so the channel never refunds twice.

A held order (paid after its account was closed, credited to nobody) is refunded the same way, without
touching the ledger.

requested -> sending -> succeeded | failed. Every change is a conditional UPDATE with a rowcount
check, so notifications, reconciliation on several machines and the operator race safely.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal import timeutil
from portal.billing import ledger
from portal.billing.amounts import format_yuan
from portal.billing.channels import (
    ChannelError,
    RefundRefused,
    RefundRequest,
    RefundResult,
    payment_channels,
)
from portal.billing.models import HELD, PAID, BigId, LedgerEntry, Order
from portal.extensions import db
from portal.transitions import transition as _transition
from portal.i18n import lazy_gettext as _l

__all__ = ["Refund"]

log = logging.getLogger(__name__)

REQUESTED, SENDING, SUCCEEDED, FAILED = "requested", "sending", "succeeded", "failed"
REFUND_STATES = (REQUESTED, SENDING, SUCCEEDED, FAILED)
OPEN = (REQUESTED, SENDING)
# WeChat Pay takes a reason of at most 80 characters (Alipay 256): the shorter rule for both.
MAX_REASON = 80
# A refund the channel says it never received is sent again (same out_refund_no) only after this
# long, so a request still on its way is never overtaken by its own retry.
RESEND_AFTER = timedelta(minutes=1)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class Refund(db.Model):
    """One refund of (part of) a paid order; states change only in this module."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("state IN ('requested', 'sending', 'succeeded', 'failed')", name="known_state"),
        Index("ix_refunds_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The channel's idempotency key (WeChat out_refund_no, Alipay out_request_no).
    out_refund_no: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    channel: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(MAX_REASON))
    state: Mapped[str] = mapped_column(String(16), default=REQUESTED)
    channel_refund_id: Mapped[str | None] = mapped_column(String(64))
    # The channel's last word (PROCESSING, ABNORMAL, an error code), for operators.
    channel_status: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(255))
    # Who asked for it (an operator's name: refunds are made from the command line).
    operator: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # The last time the channel was asked to make it.
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Refund {self.out_refund_no} order {self.order_id} {self.amount_fen} {self.state}>"


class RefundError(Exception):
    """The refund cannot be made; ``str(error)`` says why, for the operator."""


def _message(text: str, **values) -> str:
    # Operators read these on the command line, in English like the rest of ``portal orders``.
    return text % values


def new_out_refund_no(now: datetime) -> str:
    # 25 chars of [0-9a-z]: fits WeChat (1-64 [0-9A-Za-z_-|*@]) and Alipay (<= 64).
    return f"{now:%Y%m%d}r{secrets.token_hex(8)}"


def _refund_channel(name: str):
    channel = payment_channels().get(name)
    if channel is None or not hasattr(channel, "refund") or not hasattr(channel, "query_refund"):
        raise RefundError(_message("The channel %(channel)s is not enabled or cannot refund.", channel=name))
    return channel


def notify_url_for(channel_name: str) -> str | None:
    """Where the channel reports a refund's outcome: under BILLING_NOTIFY_BASE_URL (refunds are made
    from the command line, with no request to take a host from). None without it: the channel then
    reports nothing and ``reconcile`` asks instead."""
    base = current_app.config.get("BILLING_NOTIFY_BASE_URL")
    if not base or not channel_name:
        return None
    path = current_app.url_map.bind("localhost").build("billing_refunds.notify", {"channel_name": channel_name})
    return base.rstrip("/") + path


def refunded_fen(order_id: int) -> int:
    """What the order's refunds take or took back (every refund but the failed ones)."""
    return int(db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen), 0))
        .where(Refund.order_id == order_id, Refund.state != FAILED)
    ))


def request_refund(order_id: int, amount_fen: int, reason: str, operator: str,
                   now: datetime | None = None) -> Refund:
    """Debit the account and record the refund (state requested), in one transaction, or raise
    RefundError and change nothing. The channel is not asked yet (``send`` does)."""
    if type(amount_fen) is not int or amount_fen <= 0:
        raise RefundError(_message("The amount must be a positive number of fen."))
    reason = CONTROL_CHARACTERS.sub(" ", reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise RefundError(_message("Give a reason of 1 to %(max)s characters.", max=MAX_REASON))
    operator = (operator or "").strip()[:64] or "operator"
    now = now or timeutil.utcnow()
    # End any transaction first: the lock below must be the transaction's first statement (SQLite
    # cannot turn a reading transaction into a writing one while another writer went first).
    db.session.commit()
    order = db.session.get(Order, order_id)
    if order is None:
        raise RefundError(_message("There is no order %(id)s.", id=order_id))
    _refund_channel(order.channel)
    db.session.commit()
    # Lock the order's row until commit: concurrent refunds of it sum their amounts one after another.
    locked = db.session.execute(
        sa.update(Order).where(Order.id == order_id, Order.state.in_((PAID, HELD)))
        .values(state=Order.state).execution_options(synchronize_session=False)
    )
    if locked.rowcount != 1:
        db.session.rollback()
        raise RefundError(_message("Order %(id)s is not a paid recharge: only paid (or held) recharges can be refunded.",
                                 id=order_id))
    db.session.refresh(order)
    left = order.amount_fen - refunded_fen(order_id)
    if amount_fen > left:
        db.session.rollback()
        raise RefundError(_message(
            "Order %(id)s was paid ¥%(paid)s and ¥%(left)s of it can still be refunded: ¥%(amount)s is too much.",
            id=order_id, paid=format_yuan(order.amount_fen), left=format_yuan(left),
            amount=format_yuan(amount_fen)))
    refund = Refund(
        out_refund_no=new_out_refund_no(now), order_id=order_id, account_id=order.account_id,
        channel=order.channel, amount_fen=amount_fen, reason=reason, state=REQUESTED,
        operator=operator, created_at=now,
    )
    try:
        # A held order's payment was credited to nobody (its account was closed): nothing to debit.
        if order.state == PAID:
            ledger.debit(order.account_id, amount_fen, "refund", reference=f"refund:{refund.out_refund_no}")
    except ledger.InsufficientBalance:
        balance = ledger.balance_fen(order.account_id)
        db.session.rollback()
        raise RefundError(_message(
            "The account's balance is ¥%(balance)s: a refund of ¥%(amount)s would take money it no longer has.",
            balance=format_yuan(balance), amount=format_yuan(amount_fen))) from None
    db.session.add(refund)
    db.session.commit()
    return refund


def refund_request(refund: Refund, notify_url: str | None = None) -> RefundRequest:
    """What the channel is asked, the same every time for one refund."""
    order = db.session.get(Order, refund.order_id)
    return RefundRequest(
        out_refund_no=refund.out_refund_no, transaction_id=order.transaction_id,
        amount_fen=refund.amount_fen, total_fen=order.amount_fen, reason=refund.reason,
        notify_url=notify_url,
    )


def send(refund: Refund, notify_url: str | None = None, now: datetime | None = None) -> Refund:
    """Ask the channel to make the refund (again: the same out_refund_no never refunds twice) and
    apply its answer. Leaves it sending when the answer is unknown; raises nothing from the channel."""
    now = now or timeutil.utcnow()
    if not _transition(refund, OPEN, SENDING, sent_at=now):
        return refund
    channel = _refund_channel(refund.channel)
    try:
        result = channel.refund(refund_request(refund, notify_url))
    except RefundRefused as exc:
        fail(refund, str(exc), exc.code, now)
    except ChannelError as exc:
        log.warning("refund %s: the channel's answer is unknown (%s): left sending", refund.out_refund_no, exc)
        _note(refund, channel_status=(exc.code or "UNKNOWN")[:32], detail=str(exc)[:255])
    else:
        apply_result(refund, result, now)
    db.session.refresh(refund)
    return refund


def refund_order(order_id: int, amount_fen: int, reason: str, operator: str,
                 notify_url: str | None = None, now: datetime | None = None) -> Refund:
    """Debit, then ask the channel: the operator's refund, start to finish (see the module's doc)."""
    refund = request_refund(order_id, amount_fen, reason, operator, now)
    return send(refund, notify_url, now)


def apply_result(refund: Refund, result: RefundResult, now: datetime | None = None) -> str | None:
    """What the channel said about the refund (an answer, a query or a notification): returns the
    state it moved to (SUCCEEDED, FAILED), or None when nothing changed."""
    now = now or timeutil.utcnow()
    if result.amount_fen is not None and result.amount_fen != refund.amount_fen:
        log.error("refund %s: the channel reports %s fen, we asked %s fen: left for an operator",
                  refund.out_refund_no, result.amount_fen, refund.amount_fen)
        _note(refund, channel_status="AMOUNT_MISMATCH")
        return None
    if result.state == "succeeded":
        return SUCCEEDED if succeed(refund, result.refund_id, result.channel_status, now) else None
    if result.state == "closed":
        detail = f"closed by the channel ({result.channel_status or 'CLOSED'})"
        return FAILED if fail(refund, detail, result.channel_status, now) else None
    if result.state in ("processing", "abnormal"):
        if result.state == "abnormal":
            log.error("refund %s is abnormal at the channel: an operator finishes it there", refund.out_refund_no)
        _note(refund, channel_status=result.channel_status, channel_refund_id=result.refund_id)
    return None


def succeed(refund: Refund, refund_id: str | None, channel_status: str | None, now: datetime) -> bool:
    values = dict(finished_at=now, channel_status=channel_status)
    if refund_id:
        values["channel_refund_id"] = refund_id
    moved = _transition(refund, OPEN, SUCCEEDED, **values)
    if moved:
        _tell_managers(refund)
    return moved


def _tell_managers(refund: Refund) -> None:
    """Money left the balance for good: the account's owners and admins (or its person) are told."""
    from portal.accounts.models import Account
    from portal.accounts.access import managers
    from portal.notices import send_account_notice

    try:
        account = db.session.get(Account, refund.account_id)
        if account is None or account.closed_at is not None:
            return
        what = _l("A refund of ¥%(amount)s for recharge order %(order)s went back to where it was paid from. "
                  "Reason: %(reason)s", amount=format_yuan(refund.amount_fen), order=refund.order_id,
                  reason=refund.reason)
        for user in managers(account):
            send_account_notice(user, what)
    except Exception:  # noqa: BLE001 - a notice never undoes the refund it reports
        log.exception("refund %s: the account's managers could not be told", refund.out_refund_no)


def fail(refund: Refund, detail: str, channel_status: str | None, now: datetime) -> bool:
    """The channel did not and will not refund: the refund fails and its debit is released, once."""
    moved = _transition(refund, OPEN, FAILED, commit=False, finished_at=now, detail=detail[:255],
                        channel_status=(channel_status or None) and channel_status[:32])
    if not moved:
        db.session.rollback()
        return False
    if _of_held_order(refund):
        db.session.commit()
        db.session.refresh(refund)
        return True
    try:
        ledger.credit(refund.account_id, refund.amount_fen, "refund",
                      reference=f"refund-released:{refund.out_refund_no}")
    except ledger.AccountClosed:
        # The organization was deleted meanwhile: nobody can be credited; the refund still failed.
        log.error("refund %s failed after account %s was closed: %s fen need an operator",
                  refund.out_refund_no, refund.account_id, refund.amount_fen)
        db.session.rollback()
        _transition(refund, OPEN, FAILED, finished_at=now,
                    detail=f"{detail[:150]}; account closed: the amount was not released")
        return True
    db.session.commit()
    db.session.refresh(refund)
    return True


def _of_held_order(refund: Refund) -> bool:
    """Refunds of a held order never touched the ledger (its payment was credited to nobody)."""
    return db.session.scalar(sa.select(Order.state).where(Order.id == refund.order_id)) == HELD


def _note(refund: Refund, **values) -> None:
    """Keep what the channel said about an open refund (no state change)."""
    values = {k: v for k, v in values.items() if v is not None}
    if values:
        db.session.execute(
            sa.update(Refund).where(Refund.id == refund.id, Refund.state.in_(OPEN))
            .values(**values).execution_options(synchronize_session=False)
        )
    db.session.commit()
    db.session.refresh(refund)


def get_refund(out_refund_no: str) -> Refund | None:
    return db.session.scalar(sa.select(Refund).where(Refund.out_refund_no == out_refund_no))


def of_order(order_id: int) -> list[Refund]:
    return list(db.session.scalars(sa.select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)))


def verify() -> list[str]:
    """Every way the refunds and their ledger entries disagree (an empty list: all good): each refund
    has its debit, a failed one its release (unless its account was closed first), no other refund
    has one, and every ledger entry of kind refund belongs to a refund."""
    entries: dict[str | None, tuple[int, int] | None] = {}
    for reference, account_id, amount_fen in db.session.execute(
        sa.select(LedgerEntry.reference, LedgerEntry.account_id, LedgerEntry.amount_fen)
        .where(LedgerEntry.kind == "refund")
    ):
        # A reference written twice is never right: None marks it.
        entries[reference] = None if reference in entries else (account_id, amount_fen)
    problems = []
    rows = db.session.execute(sa.select(Refund, Order.state).join(Order, Order.id == Refund.order_id)
                              .order_by(Refund.id))
    for refund, order_state in rows:
        debit = entries.pop(f"refund:{refund.out_refund_no}", "missing")
        release = entries.pop(f"refund-released:{refund.out_refund_no}", "missing")
        debited = order_state != HELD
        if debit != ((refund.account_id, -refund.amount_fen) if debited else "missing"):
            problems.append(f"refund {refund.out_refund_no}: its debit is {debit or 'recorded twice'}")
        released = debited and refund.state == FAILED and "account closed" not in (refund.detail or "")
        if release != ((refund.account_id, refund.amount_fen) if released else "missing"):
            problems.append(f"refund {refund.out_refund_no} ({refund.state}): its release is {release or 'recorded twice'}")
    for reference in entries:
        problems.append(f"ledger entry of kind refund without a refund: {reference!r}")
    return problems


def open_refunds_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Refund).where(Refund.state.in_(OPEN)))


@dataclass
class Report:
    checked: int = 0
    succeeded: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)


def reconcile(now: datetime | None = None, limit: int = 500) -> Report:
    """Settle open refunds by asking the channels; one the channel never received is sent again with
    its own out_refund_no (once RESEND_AFTER passed since it was last sent)."""
    now = now or timeutil.utcnow()
    report = Report()
    open_refunds = list(db.session.scalars(
        sa.select(Refund).where(Refund.state.in_(OPEN)).order_by(Refund.id).limit(limit)))
    db.session.commit()
    for refund in open_refunds:
        report.checked += 1
        try:
            channel = _refund_channel(refund.channel)
            result = channel.query_refund(refund_request(refund))
        except (RefundError, ChannelError) as exc:
            db.session.rollback()
            report.problems.append(f"refund {refund.out_refund_no}: query failed: {exc}")
            continue
        if result.state == "not_found":
            if (refund.sent_at or refund.created_at) > now - RESEND_AFTER:
                continue
            send(refund, notify_url_for(refund.channel), now)
        else:
            apply_result(refund, result, now)
        db.session.refresh(refund)
        if refund.state == SUCCEEDED:
            report.succeeded += 1
        elif refund.state == FAILED:
            report.failed += 1
        elif refund.channel_status in ("ABNORMAL", "AMOUNT_MISMATCH"):
            report.problems.append(f"refund {refund.out_refund_no}: {refund.channel_status}, needs an operator")
    return report
