"""The only write path for balances: every change is a ledger entry plus a balance update, in the
caller's transaction (the caller commits both or neither).

Credits add; debits use a conditional UPDATE (``... WHERE balance_fen >= :x``) so two debits racing
for the same money cannot both succeed, on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlalchemy as sa

from portal import timeutil
from portal.accounts.models import Account
from portal.billing.models import ENTRY_KINDS, LedgerEntry
from portal.extensions import db


class LedgerError(ValueError):
    """A ledger call with arguments that can never be right (zero, float, unknown kind)."""


class AccountClosed(Exception):
    """The account belongs to a deleted organization: it takes no more money."""

    def __init__(self, account_id: int):
        super().__init__(f"account {account_id} is closed")
        self.account_id = account_id


class InsufficientBalance(Exception):
    def __init__(self, account_id: int, amount_fen: int):
        super().__init__(f"account {account_id} cannot pay {amount_fen} fen")
        self.account_id = account_id
        self.amount_fen = amount_fen


def _check(amount_fen, kind: str) -> None:
    # bool is an int subclass; money is never a bool or a float.
    if type(amount_fen) is not int or amount_fen <= 0:
        raise LedgerError(f"amount must be a positive integer of fen, not {amount_fen!r}")
    if kind not in ENTRY_KINDS:
        raise LedgerError(f"unknown ledger entry kind {kind!r}")


def credit(account_id: int, amount_fen: int, kind: str, *, order_id: int | None = None,
           reference: str | None = None) -> LedgerEntry:
    """Add ``amount_fen`` to the account's balance, with its entry, or raise AccountClosed. Does not
    commit."""
    _check(amount_fen, kind)
    # The condition on closed_at is checked on the row as it is once locked, so a credit racing the
    # account's closing either lands first (and blocks the closing) or is refused.
    balance_after = db.session.execute(
        _credit_statement(), {"account_id": account_id, "amount_fen": amount_fen}
    ).scalar_one_or_none()
    if balance_after is None:
        if db.session.scalar(sa.select(Account.id).where(Account.id == account_id)) is not None:
            raise AccountClosed(account_id)
        raise LedgerError(f"no account {account_id}")
    return _append(account_id, amount_fen, balance_after, kind, order_id, reference)


@functools.cache
def _credit_statement():
    # Every payment runs it: built once per process, the values bind parameters.
    return (
        sa.update(Account)
        .where(Account.id == sa.bindparam("account_id"), Account.closed_at.is_(None))
        .values(balance_fen=Account.balance_fen + sa.bindparam("amount_fen", type_=Account.balance_fen.type))
        .returning(Account.balance_fen)
        .execution_options(synchronize_session=False)
    )


def debit(account_id: int, amount_fen: int, kind: str, *, order_id: int | None = None,
          reference: str | None = None) -> LedgerEntry:
    """Take ``amount_fen`` from the balance, with its entry, or raise InsufficientBalance (and
    change nothing). Does not commit."""
    _check(amount_fen, kind)
    balance_after = db.session.execute(
        sa.update(Account)
        .where(Account.id == account_id, Account.balance_fen >= amount_fen)
        .values(balance_fen=Account.balance_fen - amount_fen)
        .returning(Account.balance_fen)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if balance_after is None:
        raise InsufficientBalance(account_id, amount_fen)
    return _append(account_id, -amount_fen, balance_after, kind, order_id, reference)


def _append(account_id, amount_fen, balance_after_fen, kind, order_id, reference) -> LedgerEntry:
    entry = LedgerEntry(
        account_id=account_id,
        amount_fen=amount_fen,
        balance_after_fen=balance_after_fen,
        kind=kind,
        order_id=order_id,
        reference=reference,
        created_at=timeutil.utcnow(),
    )
    db.session.add(entry)
    db.session.flush()
    # The Account objects in this session hold the old balance; reload it when next read.
    account = db.session.identity_map.get(db.session.identity_key(Account, account_id))
    if account is not None:
        db.session.expire(account, ["balance_fen"])
    return entry


def balance_fen(account_id: int) -> int:
    return db.session.scalar(sa.select(Account.balance_fen).where(Account.id == account_id))


def entries(account_id: int, before_id: int | None = None, limit: int = 20) -> list[LedgerEntry]:
    """The account's entries, newest first, ``limit`` at a time (keyset on id)."""
    query = sa.select(LedgerEntry).where(LedgerEntry.account_id == account_id)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    return list(db.session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit)))


@dataclass(frozen=True)
class Discrepancy:
    account_id: int
    balance_fen: int
    entries_sum_fen: int


def verify() -> list[Discrepancy]:
    """Every account whose balance differs from the sum of its entries (an empty list: all good)."""
    sums = (
        sa.select(LedgerEntry.account_id, sa.func.sum(LedgerEntry.amount_fen).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    total = sa.func.coalesce(sums.c.total, 0)
    rows = db.session.execute(
        sa.select(Account.id, Account.balance_fen, total)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance_fen != total)
        .order_by(Account.id)
    )
    return [Discrepancy(r[0], r[1], int(r[2])) for r in rows]
