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
    with pytest.raises(ledger.LedgerError, match="must be a positive integer of fen"):
        ledger.credit(account_id, amount, "recharge")
    with pytest.raises(ledger.LedgerError, match="must be a positive integer of fen"):
        ledger.debit(account_id, amount, "refund")
    assert ledger.balance_fen(account_id) == 10000


def test_unknown_kinds_are_refused(app, make_account, ctx):
    from portal.billing import ledger

    with pytest.raises(ledger.LedgerError, match="unknown ledger entry kind 'gift'"):
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


def test_a_debit_takes_only_from_its_own_account(app, make_account, ctx):
    """Bug caught: the debit's UPDATE without ``Account.id == account_id``: every account with
    enough money paid (or, with the rowcount guard, the debit failed whenever another could pay)."""
    from portal.billing import ledger
    from portal.extensions import db

    payer, bystander = make_account(5000), make_account(5000)
    entry = ledger.debit(payer, 1200, "plan_charge")
    db.session.commit()

    assert (ledger.balance_fen(payer), ledger.balance_fen(bystander)) == (3800, 5000)
    assert entry.account_id == payer
    assert [e.amount_fen for e in ledger.entries(bystander)] == [5000]
    assert ledger.verify() == []


def test_a_debit_is_refused_by_its_own_accounts_balance_not_anothers(app, make_account, ctx):
    """Bug caught: the balance condition checked against the wrong row, so a poor account could
    pay while a rich one exists."""
    from portal.billing import ledger

    poor, rich = make_account(100), make_account(100000)
    with pytest.raises(ledger.InsufficientBalance) as refused:
        ledger.debit(poor, 101, "plan_charge")

    assert (refused.value.account_id, refused.value.amount_fen) == (poor, 101)
    assert str(refused.value) == f"account {poor} cannot pay 101 fen"
    assert (ledger.balance_fen(poor), ledger.balance_fen(rich)) == (100, 100000)


def test_a_debit_of_exactly_the_balance_leaves_zero(app, make_account, ctx):
    """Bug caught: ``balance_fen >= amount`` turned into ``>``: an account could never spend its
    last fen."""
    from portal.billing import ledger
    from portal.extensions import db

    account_id = make_account(3000)
    ledger.debit(account_id, 3000, "plan_charge")
    db.session.commit()

    assert ledger.balance_fen(account_id) == 0


def test_a_credit_goes_to_its_own_account_only(app, make_account, ctx):
    """Bug caught: the credit's UPDATE without its account filter: every account got the money."""
    from portal.billing import ledger
    from portal.extensions import db

    receiver, bystander = make_account(10), make_account(10)
    entry = ledger.credit(receiver, 990, "recharge", order_id=None, reference="r-1")
    db.session.commit()

    assert (ledger.balance_fen(receiver), ledger.balance_fen(bystander)) == (1000, 10)
    assert (entry.account_id, entry.amount_fen, entry.kind, entry.reference) == (receiver, 990, "recharge", "r-1")
    assert ledger.verify() == []


def test_a_credit_to_an_account_that_does_not_exist_is_refused(app, make_account, ctx):
    """Bug caught: credit without its "no such account" error: an entry for nobody, or a credit
    reported as done that changed no balance."""
    from portal.billing import ledger
    from portal.billing.models import LedgerEntry
    from portal.extensions import db

    existing = make_account()
    with pytest.raises(ledger.LedgerError, match=f"no account {existing + 1000}"):
        ledger.credit(existing + 1000, 500, "recharge")
    db.session.rollback()

    assert db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry)) == 0


def test_an_entry_sits_on_a_new_row_that_the_session_sees_with_the_new_balance(app, make_account, ctx):
    """Bug caught: the account object in the session kept its stale balance after a change."""
    from portal.accounts.models import Account
    from portal.billing import ledger
    from portal.extensions import db

    account_id = make_account(100)
    account = db.session.get(Account, account_id)
    assert account.balance_fen == 100
    ledger.credit(account_id, 50, "recharge")
    assert account.balance_fen == 150
    ledger.debit(account_id, 20, "plan_charge")
    assert account.balance_fen == 130


def test_entries_lists_only_the_accounts_own_entries_newest_first_by_keyset(app, make_account, ctx):
    """Bugs caught: ``entries`` without its account filter (another tenant's money shown) or
    without its keyset condition (every page the first)."""
    from portal.billing import ledger
    from portal.extensions import db

    mine, other = make_account(), make_account()
    ids = []
    for amount in (1, 2, 3, 4, 5):
        ids.append(ledger.credit(mine, amount, "recharge").id)
        ledger.credit(other, 100 + amount, "recharge")
    db.session.commit()

    first = ledger.entries(mine, limit=2)
    second = ledger.entries(mine, before_id=first[-1].id, limit=2)
    last = ledger.entries(mine, before_id=second[-1].id, limit=2)

    assert [e.id for e in first + second + last] == ids[::-1]
    assert [e.amount_fen for e in first + second + last] == [5, 4, 3, 2, 1]
    assert ledger.entries(mine, before_id=ids[0]) == []
    assert len(ledger.entries(mine)) == 5 and len(ledger.entries(other, limit=3)) == 3


def test_verify_reports_an_account_with_a_balance_but_no_entries(app, make_account, ctx):
    """Bug caught: verify joining only accounts that have entries (or comparing without the
    COALESCE), so money that appeared from nowhere on a fresh account went unreported."""
    import sqlalchemy as sa

    from portal.accounts.models import Account
    from portal.billing import ledger
    from portal.extensions import db

    fine, with_entries = make_account(), make_account(300)
    empty = make_account()
    db.session.execute(sa.update(Account).where(Account.id == empty).values(balance_fen=4200))
    db.session.commit()

    assert ledger.verify() == [ledger.Discrepancy(empty, 4200, 0)]
    assert fine != empty and with_entries != empty


def test_verify_reports_each_bad_account_with_its_own_sums(app, make_account, ctx):
    """Bug caught: sums grouped over every account, or discrepancies listed without their figures."""
    import sqlalchemy as sa

    from portal.accounts.models import Account
    from portal.billing import ledger
    from portal.extensions import db

    first, good, second = make_account(100), make_account(200), make_account(300)
    db.session.execute(sa.update(Account).where(Account.id == first).values(balance_fen=101))
    db.session.execute(sa.update(Account).where(Account.id == second).values(balance_fen=0))
    db.session.commit()

    assert ledger.verify() == [ledger.Discrepancy(first, 101, 100), ledger.Discrepancy(second, 0, 300)]
    assert good not in [d.account_id for d in ledger.verify()]


def test_one_fen_is_an_amount(app, make_account, ctx):
    """Bug caught: the smallest amount refused (``amount_fen <= 1``)."""
    from portal.billing import ledger

    account_id = make_account()
    ledger.credit(account_id, 1, "recharge")
    ledger.debit(account_id, 1, "plan_charge")
    assert ledger.balance_fen(account_id) == 0


def test_a_closed_account_takes_no_credit_and_says_which(app, make_account, ctx):
    """Bug caught: the credit without its ``closed_at IS NULL`` condition (money paid into a deleted
    organization's account), or the refusal naming no account."""
    from portal.accounts.models import Account
    from portal.billing import ledger
    from portal.extensions import db
    from portal.timeutil import utcnow

    closed, other = make_account(100), make_account(100)
    db.session.get(Account, closed).closed_at = utcnow()
    db.session.commit()

    with pytest.raises(ledger.AccountClosed) as refused:
        ledger.credit(closed, 50, "recharge")
    db.session.rollback()

    assert refused.value.account_id == closed and str(refused.value) == f"account {closed} is closed"
    assert (ledger.balance_fen(closed), ledger.balance_fen(other)) == (100, 100)
    assert ledger.credit(other, 50, "recharge").amount_fen == 50


def test_a_debit_records_its_order_and_reference(app, make_account, ctx):
    """Bug caught: the debit's entry without its order (a refund or charge no longer traceable)."""
    from portal.billing import ledger, orders

    account_id = make_account(10000)
    order = orders.open_order(account_id, "wechatpay", 500)
    entry = ledger.debit(account_id, 300, "refund", order_id=order.id, reference="refund:1")

    assert (entry.order_id, entry.reference, entry.kind) == (order.id, "refund:1", "refund")
    assert ledger.entries(account_id)[0].order_id == order.id


def test_entries_come_twenty_to_a_page_by_default(app, make_account, ctx):
    """Bug caught: the page size changed (a page repeats or skips an entry where the pages meet)."""
    from portal.billing import ledger

    account_id = make_account()
    for _ in range(21):
        ledger.credit(account_id, 1, "recharge")

    assert len(ledger.entries(account_id)) == 20


def test_each_entry_records_the_balance_after_it_on_its_own_account(app, make_account, ctx):
    """Bug caught: an entry's ``balance_after_fen`` not stored (a statement showing empty or wrong
    running balances)."""
    from portal.billing import ledger
    from portal.extensions import db

    account_id, other = make_account(1000), make_account(5)
    credited = ledger.credit(account_id, 250, "recharge")
    debited = ledger.debit(account_id, 1200, "plan_charge")
    elsewhere = ledger.credit(other, 1, "recharge")
    db.session.commit()

    assert (credited.balance_after_fen, debited.balance_after_fen, elsewhere.balance_after_fen) == (1250, 50, 6)
    assert [e.balance_after_fen for e in ledger.entries(account_id)] == [50, 1250, 1000]
