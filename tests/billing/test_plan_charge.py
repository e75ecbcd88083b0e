"""Buying a bigger plan charges the balance through the ledger, or is refused when it is short."""
from __future__ import annotations

import pytest

PLANS = {"standard": {"name": "Standard", "price_fen": 9900, "quotas": {"projects": 50}}}


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLANS": PLANS}


def _change(app, account_id, plan_key):
    from portal.accounts import plans
    from portal.accounts.models import Account
    from portal.extensions import db

    with app.test_request_context(headers={"Accept-Language": "en"}):
        account = db.session.get(Account, account_id)
        return plans.change_plan(account, plan_key, account.user).id


def test_a_paid_plan_is_charged_to_the_balance(app, make_account, runner):
    from portal.billing import ledger

    account_id = make_account(10000)

    change_id = _change(app, account_id, "standard")

    with app.app_context():
        assert ledger.balance_fen(account_id) == 100
        entry = ledger.entries(account_id)[0]
        assert (entry.kind, entry.amount_fen) == ("plan_charge", -9900)
        assert entry.reference == f"plan_change:{change_id}"
    assert runner.invoke(args=["portal", "ledger", "verify"]).exit_code == 0


def test_a_short_balance_is_refused_clearly_and_changes_nothing(app, make_account):
    from portal.accounts.models import Account, PlanChange
    from portal.accounts.plans import PlanError
    from portal.billing import ledger
    from portal.extensions import db

    account_id = make_account(9899)

    with pytest.raises(PlanError, match="costs ¥99.00 and the balance is ¥98.99: recharge first"):
        _change(app, account_id, "standard")

    with app.app_context():
        assert db.session.get(Account, account_id).plan_key == "trial"
        assert ledger.balance_fen(account_id) == 9899
        assert db.session.scalar(db.select(db.func.count()).select_from(PlanChange)) == 0


def test_moving_back_to_the_free_plan_charges_nothing(app, make_account):
    from portal.billing import ledger

    account_id = make_account(9900)
    _change(app, account_id, "standard")
    _change(app, account_id, "trial")

    with app.app_context():
        assert ledger.balance_fen(account_id) == 0
        assert len(ledger.entries(account_id)) == 2
