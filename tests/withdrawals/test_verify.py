"""``portal ledger verify`` checks every withdrawal against its ledger entries: an open or paid one has
its hold and no release, a rejected or failed one its hold and a release of the same amount, and no
withdrawal entry belongs to none. Each corruption below is reported, then repaired."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from .conftest import cli, request_withdrawal


def verify(app):
    return app.test_cli_runner().invoke(args=["portal", "ledger", "verify"])


def set_withdrawal(app, withdrawal_id, **values):
    from portal.extensions import db
    from portal.withdrawals.models import Withdrawal

    with app.app_context():
        db.session.execute(sa.update(Withdrawal).where(Withdrawal.id == withdrawal_id).values(**values))
        db.session.commit()


def extra_entry(app, account_id, amount_fen, kind, reference):
    """Writes a stray entry through the ledger (balances still add up); returns its undoing."""
    from portal.accounts.models import Account
    from portal.billing import ledger
    from portal.billing.models import LedgerEntry
    from portal.extensions import db

    with app.app_context():
        write = ledger.credit if amount_fen > 0 else ledger.debit
        entry_id = write(account_id, abs(amount_fen), kind, reference=reference).id
        db.session.commit()

    def undo():
        with app.app_context():
            db.session.execute(sa.delete(LedgerEntry).where(LedgerEntry.id == entry_id))
            db.session.execute(sa.update(Account).where(Account.id == account_id)
                               .values(balance_fen=Account.balance_fen - amount_fen))
            db.session.commit()

    return undo


def out_biz_no(app, withdrawal_id):
    from .conftest import withdrawal

    return withdrawal(app, withdrawal_id)["out_biz_no"]


def pending_marked_rejected(app, account_id, pending, rejected):
    set_withdrawal(app, pending, state="rejected")
    return "pending", "its release is missing", lambda: set_withdrawal(app, pending, state="pending")


def rejected_marked_paid(app, account_id, pending, rejected):
    set_withdrawal(app, rejected, state="succeeded")
    return ("rejected", "its release is +2000 fen on account", lambda: set_withdrawal(app, rejected, state="rejected"))


def amount_changed(app, account_id, pending, rejected):
    set_withdrawal(app, pending, amount_fen=1001)
    return "pending", "its hold is -1000 fen on account", lambda: set_withdrawal(app, pending, amount_fen=1000)


def release_written_twice(app, account_id, pending, rejected):
    undo = extra_entry(app, account_id, 2000, "withdrawal_release", f"withdrawal-released:{out_biz_no(app, rejected)}")
    return "rejected", "its release is recorded twice", undo


def pending_released(app, account_id, pending, rejected):
    undo = extra_entry(app, account_id, 1000, "withdrawal_release", f"withdrawal-released:{out_biz_no(app, pending)}")
    return "pending", "and it should have none", undo


def hold_of_no_withdrawal(app, account_id, pending, rejected):
    undo = extra_entry(app, account_id, -500, "withdrawal_hold", "withdrawal:20260101wffffffffffffffff")
    return None, "without a withdrawal: 'withdrawal:20260101wffffffffffffffff'", undo


@pytest.mark.parametrize("corrupt", [pending_marked_rejected, rejected_marked_paid, amount_changed,
                                     release_written_twice, pending_released, hold_of_no_withdrawal])
def test_verify_reports_a_withdrawal_that_disagrees_with_the_ledger(app, withdrawer, corrupt):
    user_id, account_id = withdrawer(10000)
    pending, _ = request_withdrawal(app, user_id, account_id, 1000)
    rejected, _ = request_withdrawal(app, user_id, account_id, 2000)
    assert cli(app, "reject", str(rejected), "--reason", "资料不全").exit_code == 0
    assert verify(app).exit_code == 0

    which, words, repair = corrupt(app, account_id, pending, rejected)

    result = verify(app)
    assert result.exit_code == 1 and "MISMATCH: 1 withdrawal problem(s)" in result.output, result.output
    assert words in result.output
    if which:
        named = {"pending": pending, "rejected": rejected}[which]
        assert f"withdrawal {named} ({out_biz_no(app, named)}" in result.output
    assert "account(s) differ" not in result.output  # balances still add up: only the withdrawal check sees it
    repair()
    assert verify(app).exit_code == 0


def test_verify_says_how_many_withdrawals_hold_money(app, sandbox, withdrawer):
    user_id, account_id = withdrawer(10000)
    first, _ = request_withdrawal(app, user_id, account_id, 1000)
    request_withdrawal(app, user_id, account_id, 2000)
    assert "attention: 2 withdrawal(s) hold money" in verify(app).output
    assert cli(app, "approve", str(first)).exit_code == 0

    result = verify(app)

    assert result.exit_code == 0 and "attention: 1 withdrawal(s) hold money" in result.output
    assert "every withdrawal its hold and release" in result.output
