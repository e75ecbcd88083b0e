"""交易记录: every movement of an account's balance (each ledger entry, with the balance after it)
and every recharge that has not moved it (pending, expired, closed), in one list, newest first.

A withdrawal's hold is 提现中 while the withdrawal is open, completed once paid, and "returned" once
rejected or failed; its release carries the withdrawal's state and reason (the user reads why).

A paid recharge appears once, as its ledger entry at the time it was paid; an unpaid one as its
order at the time it was opened. Pages are keyset-paginated on (time, source, id): one statement of
two index range scans per page, whatever the length of the history, and new movements never shift
a page. The CSV export walks the same keyset in batches, so it streams in constant memory.
"""
from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from portal.billing.models import ENTRY_KINDS, PAID, LedgerEntry, Order
from portal.extensions import db
from portal.withdrawals.models import FAILED as WITHDRAWAL_FAILED
from portal.withdrawals.models import OPEN as WITHDRAWAL_OPEN
from portal.withdrawals.models import REJECTED as WITHDRAWAL_REJECTED
from portal.withdrawals.models import Withdrawal

# A statement line comes from a ledger entry or from an order without one; entries sort first
# among lines of the same instant.
ENTRY, ORDER = 1, 0
# Lines of kind "recharge" made by a payment are "paid"; every other entry is "completed".
COMPLETED = "completed"
# A withdrawal's hold while the withdrawal waits or is being paid (提现中), and once given back.
WITHDRAWING, RETURNED = "withdrawing", "returned"
UNPAID_ORDER_STATES = ("pending", "expired", "closed", "held")
ENTRY_STATES = (PAID, COMPLETED, WITHDRAWING, RETURNED)
STATES = ("pending", PAID, "expired", "closed", COMPLETED, WITHDRAWING, RETURNED)
# How a withdrawal's entries name it: "withdrawal:<out_biz_no>", "withdrawal-released:<out_biz_no>".
HOLD_PREFIX, RELEASE_PREFIX = "withdrawal:", "withdrawal-released:"
KINDS = ENTRY_KINDS


class CursorError(ValueError):
    """A cursor this module did not make (the page answers 400)."""


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    state: str | None = None
    # Dates in the site's time zone, both included.
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class Line:
    source: int
    id: int
    at: datetime
    kind: str
    amount_fen: int
    # None for orders (nothing moved) and for entries older than the running balance.
    balance_after_fen: int | None
    order_id: int | None
    reference: str | None
    state: str
    expires_at: datetime | None
    # For a withdrawal's entries: the withdrawal's state and, once rejected or failed, why.
    withdrawal_state: str | None = None
    reason: str | None = None

    @property
    def moved(self) -> bool:
        """True when the balance changed by this line."""
        return self.source == ENTRY

    @property
    def cursor(self) -> str:
        raw = f"{self.at.isoformat()}|{self.source}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[datetime, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, source, line_id = raw.split("|")
        return datetime.fromisoformat(at), int(source), int(line_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise CursorError(cursor) from None


def page(account_id: int, filters: Filters, cursor: str | None = None, limit: int = 20) -> tuple[list[Line], str | None]:
    """One page of the statement and the cursor of the next one (None: this is the last)."""
    after = parse_cursor(cursor) if cursor else None
    lines = _lines(account_id, filters, after, limit + 1)
    return lines[:limit], (lines[limit - 1].cursor if len(lines) > limit else None)


def every_line(account_id: int, filters: Filters, batch: int = 500) -> Iterator[Line]:
    """The whole filtered statement, newest first, read ``batch`` lines at a time."""
    after = None
    while True:
        lines = _lines(account_id, filters, after, batch)
        yield from lines
        if len(lines) < batch:
            return
        last = lines[-1]
        after = (last.at, last.source, last.id)


def _lines(account_id: int, filters: Filters, after: tuple | None, limit: int) -> list[Line]:
    since, until = _utc_bounds(filters)
    # Only how the cursor's source compares with each part's matters to the statement's shape.
    after_source = None if after is None else max(ORDER - 1, min(after[1], ENTRY + 1))
    statement = _statement(filters.kind, filters.state, since is not None, until is not None, after_source)
    if statement is None:
        return []
    values = {"account_id": account_id, "limit": limit, "since": since, "until": until,
              "after_at": after[0] if after else None, "after_id": after[2] if after else None}
    return [Line(**row._mapping) for row in db.session.execute(statement, values)]


@functools.lru_cache(maxsize=256)
def _statement(kind: str | None, state: str | None, since: bool, until: bool, after_source: int | None):
    """The statement of one shape of filters, built once per process with the account, the dates,
    the cursor and the limit as bind parameters: building it cost more than running it."""
    window = (since, until, after_source)
    parts = [part for part in (_entries(kind, state, window), _orders(kind, state, window)) if part is not None]
    if not parts:
        return None
    union = sa.union_all(*(sa.select(part.subquery()) for part in parts)).subquery()
    return (sa.select(union).order_by(union.c.at.desc(), union.c.source.desc(), union.c.id.desc())
            .limit(sa.bindparam("limit", type_=sa.Integer)))


def _entries(kind: str | None, state: str | None, window):
    if state in UNPAID_ORDER_STATES or (kind and kind not in KINDS):
        return None
    # The withdrawal an entry belongs to, by its out_biz_no (a unique index: one lookup per line).
    out_biz_no = sa.case(
        (LedgerEntry.kind == "withdrawal_hold", sa.func.substr(LedgerEntry.reference, len(HOLD_PREFIX) + 1)),
        (LedgerEntry.kind == "withdrawal_release", sa.func.substr(LedgerEntry.reference, len(RELEASE_PREFIX) + 1)),
    )
    hold = LedgerEntry.kind == "withdrawal_hold"
    line_state = sa.case(
        (LedgerEntry.kind == "recharge", sa.literal(PAID)),
        (sa.and_(hold, Withdrawal.state.in_(WITHDRAWAL_OPEN)), sa.literal(WITHDRAWING)),
        (sa.and_(hold, Withdrawal.state.in_((WITHDRAWAL_FAILED, WITHDRAWAL_REJECTED))), sa.literal(RETURNED)),
        else_=sa.literal(COMPLETED),
    )
    query = sa.select(
        sa.literal(ENTRY).label("source"),
        LedgerEntry.id.label("id"),
        LedgerEntry.created_at.label("at"),
        LedgerEntry.kind.label("kind"),
        LedgerEntry.amount_fen.label("amount_fen"),
        LedgerEntry.balance_after_fen.label("balance_after_fen"),
        LedgerEntry.order_id.label("order_id"),
        LedgerEntry.reference.label("reference"),
        line_state.label("state"),
        sa.cast(sa.null(), Order.expires_at.type).label("expires_at"),
        Withdrawal.state.label("withdrawal_state"),
        sa.case((Withdrawal.state.in_((WITHDRAWAL_FAILED, WITHDRAWAL_REJECTED)), Withdrawal.reason)).label("reason"),
    ).select_from(LedgerEntry).outerjoin(Withdrawal, Withdrawal.out_biz_no == out_biz_no).where(
        LedgerEntry.account_id == sa.bindparam("account_id"))
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    if state in ENTRY_STATES:
        query = query.where(line_state == state)
    return _window(query, LedgerEntry.created_at, LedgerEntry.id, ENTRY, *window)


def _orders(kind: str | None, state: str | None, window):
    if kind not in (None, "recharge") or state in ENTRY_STATES:
        return None
    states = [state] if state else list(UNPAID_ORDER_STATES)
    query = sa.select(
        sa.literal(ORDER).label("source"),
        Order.id.label("id"),
        Order.created_at.label("at"),
        sa.literal("recharge").label("kind"),
        Order.amount_fen.label("amount_fen"),
        sa.cast(sa.null(), LedgerEntry.balance_after_fen.type).label("balance_after_fen"),
        Order.id.label("order_id"),
        sa.cast(sa.null(), LedgerEntry.reference.type).label("reference"),
        Order.state.label("state"),
        Order.expires_at.label("expires_at"),
        sa.cast(sa.null(), Withdrawal.state.type).label("withdrawal_state"),
        sa.cast(sa.null(), Withdrawal.reason.type).label("reason"),
    ).where(Order.account_id == sa.bindparam("account_id"), Order.state.in_(states))
    return _window(query, Order.created_at, Order.id, ORDER, *window)


def _window(query, at_column, id_column, source: int, since: bool, until: bool, after_source: int | None):
    if since:
        query = query.where(at_column >= sa.bindparam("since"))
    if until:
        query = query.where(at_column < sa.bindparam("until"))
    if after_source is not None:
        at = sa.bindparam("after_at")
        # (at, source, id) < (after...), with this part's source a constant.
        same_instant = sa.true() if source < after_source else (
            id_column < sa.bindparam("after_id") if source == after_source else sa.false())
        query = query.where(sa.or_(at_column < at, sa.and_(at_column == at, same_instant)))
    return query.order_by(at_column.desc(), id_column.desc()).limit(sa.bindparam("limit", type_=sa.Integer))


def _utc_bounds(filters: Filters) -> tuple[datetime | None, datetime | None]:
    """The filter's dates, in the site's time zone, as naive UTC instants (until: exclusive)."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")

    def utc(day: date) -> datetime:
        return datetime.combine(day, time(), zone).astimezone(timezone.utc).replace(tzinfo=None)

    since = utc(filters.since) if filters.since else None
    until = utc(filters.until + timedelta(days=1)) if filters.until else None
    return since, until

