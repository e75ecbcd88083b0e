"""The ledger: the only way a balance changes, always together with an entry."""
from __future__ import annotations

import pytest


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def test_credit_adds_to_the_balance_with_an_entry(app, make_account, ctx):
    from portal.billing import ledger
    from portal.extensions import db

    account_id = make_account()
    entry = ledger.credit(account_id, 12345, "recharge")
    db.session.commit()

    assert ledger.balance_fen(account_id) == 12345
    assert entry.amount_fen == 12345 and entry.kind == "recharge"
    assert [e.id for e in ledger.entries(account_id)] == [entry.id]
    assert ledger.verify() == []


def test_debit_takes_money_and_records_a_negative_entry(app, make_account, ctx):
    from portal.billing import ledger
    from portal.extensions import db

    account_id = make_account(10000)
    ledger.debit(account_id, 3000, "plan_charge", reference="plan:trial->pro")
    db.session.commit()

    assert ledger.balance_fen(account_id) == 7000
    newest = ledger.entries(account_id)[0]
    assert (newest.amount_fen, newest.kind, newest.reference) == (-3000, "plan_charge", "plan:trial->pro")
    assert ledger.verify() == []


def test_debit_beyond_the_balance_is_refused_and_changes_nothing(app, make_account, ctx):
    from portal.billing import ledger

    account_id = make_account(2999)
    with pytest.raises(ledger.InsufficientBalance):
        ledger.debit(account_id, 3000, "plan_charge")

    assert ledger.balance_fen(account_id) == 2999
    assert len(ledger.entries(account_id)) == 1


@pytest.mark.parametrize("amount", [0, -1, 1.5, 100.0, True, "100", None])
def test_amounts_must_be_positive_integers_of_fen(app, make_account, ctx, amount):
    from portal.billing import ledger

    account_id = make_account(10000)
    with pytest.raises(ledger.LedgerError):
        ledger.credit(account_id, amount, "recharge")
    with pytest.raises(ledger.LedgerError):
        ledger.debit(account_id, amount, "refund")
    assert ledger.balance_fen(account_id) == 10000


def test_unknown_kinds_are_refused(app, make_account, ctx):
    from portal.billing import ledger

    with pytest.raises(ledger.LedgerError):
        ledger.credit(make_account(), 100, "gift")


def test_verify_reports_a_balance_changed_behind_the_ledgers_back(app, make_account, runner):
    import sqlalchemy as sa

    from portal.accounts.models import Account
    from portal.extensions import db

    good = make_account(500)
    tampered = make_account(700)
    with app.app_context():
        db.session.execute(sa.update(Account).where(Account.id == tampered).values(balance_fen=70000))
        db.session.commit()

    result = runner.invoke(args=["portal", "ledger", "verify"])

    assert result.exit_code != 0
    assert f"account {tampered}: balance 70000 fen, entries sum to 700 fen" in result.output
    assert f"account {good}:" not in result.output


def test_verify_passes_when_every_balance_matches(app, make_account, runner):
    make_account(500)
    make_account()

    result = runner.invoke(args=["portal", "ledger", "verify"])

    assert result.exit_code == 0, result.output
    assert "every balance equals the sum of its entries" in result.output
