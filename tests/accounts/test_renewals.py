"""Paid plans are charged per period and renew: a confirmation step says what is charged; upgrades
are prorated, downgrades wait for the period's end; `portal plans renew` charges each account once
per period, gives a grace period when the balance is short, then falls back to trial."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from portal.extensions import db

PLANS = {
    "basic": {"name": "Basic", "price_fen": 3000, "quotas": {"projects": 10, "containers": 10, "services": 5}},
    "standard": {"name": "Standard", "price_fen": 9900, "quotas": {"projects": 50, "containers": 100, "services": 50}},
    "premium": {"name": "Premium", "price_fen": 19900, "quotas": {"projects": 99, "containers": 200, "services": 99}},
    "weekly": {"name": "Weekly", "price_fen": 700, "period_days": 7, "quotas": {"projects": 5}},
}
JAN_10 = datetime(2026, 1, 10, 8, 0)


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLANS": PLANS, "BABEL_DEFAULT_LOCALE": "en", "PLUGINS_ENABLED": ["smtp"]}


@pytest.fixture
def buyer(app, users):
    """``buyer(balance_fen)`` -> a personal account id whose owner has a verified primary email."""
    from portal.accounts.access import personal_account
    from portal.billing import ledger
    from portal.users.models import User

    def make(balance_fen=0):
        user_id = users.create()
        with app.app_context():
            account = personal_account(db.session.get(User, user_id))
            if balance_fen:
                ledger.credit(account.id, balance_fen, "adjustment", reference="opening balance")
                db.session.commit()
            return account.id

    return make


def _account(account_id):
    from portal.accounts.models import Account

    account = db.session.get(Account, account_id)
    db.session.refresh(account)
    return account


def _buy(account_id, plan_key, now):
    from portal.accounts import plans

    account = _account(account_id)
    return plans.change_plan(account, plan_key, account.user, now=now)


def _renew(now):
    from portal.accounts import renewals

    return renewals.renew_due(now)


def _charges(account_id):
    from portal.billing import ledger

    return [e.amount_fen for e in ledger.entries(account_id, limit=100) if e.kind == "plan_charge"]


def test_a_month_is_a_calendar_month_ending_on_the_last_day_when_shorter(app):
    from portal.accounts import plans

    with app.app_context():
        standard, weekly = plans.plan("standard"), plans.plan("weekly")
        assert standard.period_end(datetime(2026, 1, 31, 9)) == datetime(2026, 2, 28, 9)
        assert standard.period_end(datetime(2026, 12, 15)) == datetime(2027, 1, 15)
        assert weekly.period_end(JAN_10) == JAN_10 + timedelta(days=7)


def test_buying_charges_a_full_period_and_the_renewal_charges_the_next_once(app, buyer):
    account_id = buyer(30000)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
        account = _account(account_id)
        assert (account.plan_period_start, account.plan_renews_at) == (JAN_10, datetime(2026, 2, 10, 8))

        assert _renew(datetime(2026, 2, 10, 7)).renewed == 0  # not due yet
        assert _renew(datetime(2026, 2, 10, 9)).renewed == 1
        assert _renew(datetime(2026, 2, 10, 10)).renewed == 0  # the same period is never charged twice

        account = _account(account_id)
        assert (account.plan_period_start, account.plan_renews_at) == (datetime(2026, 2, 10, 8), datetime(2026, 3, 10, 8))
        assert _charges(account_id) == [-9900, -9900]
        assert account.balance_fen == 30000 - 2 * 9900


def test_two_renewal_jobs_racing_charge_each_account_once(app, buyer):
    from portal.billing import ledger

    accounts = [buyer(20000) for _ in range(3)]
    with app.app_context():
        for account_id in accounts:
            _buy(account_id, "standard", JAN_10)
    start = threading.Barrier(2)

    def job():
        with app.app_context():
            start.wait()
            _renew(datetime(2026, 2, 11))
            db.session.remove()

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with app.app_context():
        for account_id in accounts:
            assert _charges(account_id) == [-9900, -9900]
        assert ledger.verify() == []


def test_a_short_balance_gives_a_grace_period_then_falls_back_to_trial(app, buyer, mailbox, users):
    from portal.accounts import quotas

    account_id = buyer(9900 + 500)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
        quotas.use(account_id, "projects", 8)  # more than trial's 3
        db.session.commit()
        email = _account(account_id).user.primary_email.address

        report = _renew(datetime(2026, 2, 10, 9))
        account = _account(account_id)
        assert report.in_grace == 1 and account.plan_key == "standard"
        assert account.grace_until == datetime(2026, 2, 13, 8)
        assert "cannot pay the renewal" in mailbox.to(email)[-1]["body"]
        assert _renew(datetime(2026, 2, 12)).in_grace == 1  # still waiting; told only once
        assert sum("cannot pay the renewal" in m["body"] for m in mailbox.to(email)) == 1

        report = _renew(datetime(2026, 2, 13, 9))
        account = _account(account_id)
        assert report.fell_back == 1 and account.plan_key == "trial"
        assert account.plan_renews_at is None and account.grace_until is None
        assert "back on the free trial plan" in mailbox.to(email)[-1]["body"]
        # Usage above the trial quotas is kept, but nothing new can be reserved.
        assert {r.resource.key: r.used for r in quotas.quota_table(account)}["projects"] == 8
        with pytest.raises(quotas.QuotaExceeded):
            quotas.use(account_id, "projects", 1)
        assert _charges(account_id) == [-9900]
        assert account.balance_fen == 500


def test_a_recharge_during_grace_renews_on_the_next_run(app, buyer):
    from portal.billing import ledger

    account_id = buyer(9900)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
        _renew(datetime(2026, 2, 10, 9))
        ledger.credit(account_id, 10000, "adjustment", reference="top-up")
        db.session.commit()

        assert _renew(datetime(2026, 2, 11)).renewed == 1
        account = _account(account_id)
        assert account.grace_until is None and account.plan_key == "standard"
        # The period still starts when the last one ended: grace is not free time.
        assert account.plan_renews_at == datetime(2026, 3, 10, 8)


def test_the_grace_banner_shows_on_the_account_pages(app, buyer, users):
    account_id = buyer(9900)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
        _renew(datetime(2026, 2, 10, 9))
        username = _account(account_id).user.username
    client = app.test_client()
    users.sign_in(client, username)

    for page in ("/account/info", "/account/plan", "/billing/history"):
        text = client.get(page, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert 'id="plan-grace"' in text and "could not be paid" in text, page


def test_an_upgrade_mid_period_charges_the_prorated_difference(app, buyer):
    account_id = buyer(50000)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
        # Jan 10 -> Feb 10 is 31 days; 10 days and 8 hours later, 20 days 16 hours are left.
        change = _buy(account_id, "premium", JAN_10 + timedelta(days=10, hours=8))
        left, length = timedelta(days=20, hours=16).total_seconds(), timedelta(days=31).total_seconds()
        expected = -(-(19900 - 9900) * int(left) // int(length))
        assert change.price_fen == expected == 6667
        account = _account(account_id)
        assert account.plan_key == "premium" and account.plan_renews_at == datetime(2026, 2, 10, 8)
        assert _charges(account_id) == [-6667, -9900]
        _renew(datetime(2026, 2, 10, 9))
        assert _charges(account_id)[0] == -19900


def test_a_downgrade_waits_for_the_period_end_and_refunds_nothing(app, buyer):
    from portal.accounts import quotas

    account_id = buyer(20000)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
        change = _buy(account_id, "basic", JAN_10 + timedelta(days=3))
        account = _account(account_id)
        assert change.effective_at == datetime(2026, 2, 10, 8) and change.price_fen == 0
        assert account.plan_key == "standard" and account.next_plan_key == "basic"
        assert {r.resource.key: r.limit for r in quotas.quota_table(account)}["projects"] == 50

        _renew(datetime(2026, 2, 10, 9))
        account = _account(account_id)
        assert account.plan_key == "basic" and account.next_plan_key is None
        assert {r.resource.key: r.limit for r in quotas.quota_table(account)}["projects"] == 10
        assert _charges(account_id) == [-3000, -9900]


def test_a_downgrade_to_trial_ends_the_paid_periods(app, buyer):
    account_id = buyer(9900)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
        _buy(account_id, "trial", JAN_10 + timedelta(days=1))
        assert _renew(datetime(2026, 2, 10, 9)).switched == 1
        account = _account(account_id)
        assert account.plan_key == "trial" and account.plan_renews_at is None
        assert _charges(account_id) == [-9900]


def test_keeping_the_plan_cancels_a_scheduled_downgrade(app, buyer):
    from portal.accounts import plans

    account_id = buyer(30000)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
        _buy(account_id, "basic", JAN_10 + timedelta(days=1))
        account = _account(account_id)
        assert plans.cancel_scheduled_change(account, account.user)
        _renew(datetime(2026, 2, 10, 9))
        assert _account(account_id).plan_key == "standard"
        assert _charges(account_id) == [-9900, -9900]


def test_the_confirmation_step_shows_the_charge_and_posting_without_it_changes_nothing(app, users, buyer):
    from portal.accounts.access import personal_account
    from portal.billing import ledger
    from portal.users.models import User

    client, user_id = users.signed_in_client()
    with app.app_context():
        account_id = personal_account(db.session.get(User, user_id)).id
        ledger.credit(account_id, 12000, "adjustment", reference="opening")
        db.session.commit()
    en = {"Accept-Language": "en"}

    page = client.get("/account/plan/confirm?plan=standard", headers=en).get_data(as_text=True)
    assert 'id="plan-charge-now">¥99.00' in page and 'id="plan-balance-after">¥21.00' in page
    assert "Next renewal" in page and "full price is charged now" in page

    skipped = client.submit("/account/plan", {"plan": "standard"}, page="/account/plan")
    assert skipped.status_code == 302 and "/account/plan/confirm?plan=standard" in skipped.headers["Location"]
    with app.app_context():
        assert _account(account_id).plan_key == "trial" and ledger.balance_fen(account_id) == 12000

    done = client.submit("/account/plan", {"plan": "standard", "confirm": "1"}, page="/account/plan")
    assert done.status_code == 302
    info = client.get("/account/info", headers=en).get_data(as_text=True)
    assert 'id="plan-period"' in info and "Next renewal" in info and "¥99.00" in info


def test_the_renew_command_reports_what_it_did(app, buyer, runner, monkeypatch):
    from portal import timeutil

    account_id = buyer(9900)
    with app.app_context():
        _buy(account_id, "standard", JAN_10)
    monkeypatch.setattr(timeutil, "utcnow", lambda: datetime(2026, 2, 10, 9))

    result = runner.invoke(args=["portal", "plans", "renew"])

    assert result.exit_code == 0, result.output
    assert "renewed 0, switched 0, in grace 1, back on trial 0" in result.output
