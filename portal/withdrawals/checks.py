"""What ``portal ledger verify`` checks of withdrawals: each one's ledger entries match its state. A
pending, sending or paid withdrawal has its hold and no release; a rejected or failed one its hold
and a release of the same amount; no entry of a withdrawal kind belongs to none."""
from __future__ import annotations

import sqlalchemy as sa

from portal.billing.models import LedgerEntry
from portal.extensions import db
from portal.withdrawals.models import FAILED, OPEN, REJECTED, Withdrawal
from portal.withdrawals.services import HOLD, RELEASE

MISSING = "missing"


def verify() -> list[str]:
    """Every way the withdrawals and their ledger entries disagree (an empty list: all good)."""
    entries: dict[str | None, tuple[int, int] | None] = {}
    for reference, account_id, amount_fen in db.session.execute(
        sa.select(LedgerEntry.reference, LedgerEntry.account_id, LedgerEntry.amount_fen)
        .where(LedgerEntry.kind.in_((HOLD, RELEASE)))
    ):
        # A reference written twice is never right: None marks it.
        entries[reference] = None if reference in entries else (account_id, amount_fen)
    problems = []
    for withdrawal in db.session.scalars(sa.select(Withdrawal).order_by(Withdrawal.id)):
        number = withdrawal.out_biz_no
        hold = entries.pop(f"withdrawal:{number}", MISSING)
        release = entries.pop(f"withdrawal-released:{number}", MISSING)
        described = f"withdrawal {withdrawal.id} ({number}, {withdrawal.state}, {withdrawal.amount_fen} fen)"
        if hold != (withdrawal.account_id, -withdrawal.amount_fen):
            problems.append(f"{described}: its hold is {_shown(hold)}")
        released = withdrawal.state in (FAILED, REJECTED)
        if release != ((withdrawal.account_id, withdrawal.amount_fen) if released else MISSING):
            problems.append(f"{described}: its release is {_shown(release)}"
                            + ("" if released else ", and it should have none"))
    for reference in entries:
        problems.append(f"ledger entry of a withdrawal kind without a withdrawal: {reference!r}")
    return problems


def open_count() -> int:
    """Withdrawals holding money while they wait for an operator or the channel."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Withdrawal).where(Withdrawal.state.in_(OPEN)))


def _shown(entry) -> str:
    if entry is None:
        return "recorded twice"
    if entry == MISSING:
        return MISSING
    account_id, amount_fen = entry
    return f"{amount_fen:+d} fen on account {account_id}"
