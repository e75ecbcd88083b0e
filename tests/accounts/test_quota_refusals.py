"""Quotas seen from the account: its own plan's limits, fresh figures, refusals that say what and why
in the user's language, and a reservation that waits for a plan change in progress."""
import threading

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from portal.accounts import quotas
from portal.accounts.access import personal_account
from portal.accounts.models import Account, QuotaUsage
from portal.accounts.quotas import QuotaExceeded
from portal.extensions import db
from portal.users.models import User


@pytest.fixture
def portal_config(portal_config):
    return {
        **portal_config,
        "PLANS": {
            "trial": {"quotas": {"projects": 3, "containers": 5, "services": 3}},
            "team": {"name": "Team", "quotas": {"projects": 10, "containers": 20, "services": 10}},
            "tiny": {"name": "Tiny", "quotas": {"projects": 1}},
        },
    }


@pytest.fixture
def account_id(app, users):
    with app.app_context():
        return personal_account(db.session.get(User, users.create("alice"))).id


def on_plan(account_id, plan_key):
    db.session.execute(sa.update(Account).where(Account.id == account_id).values(plan_key=plan_key))
    db.session.commit()


def test_the_limits_are_the_accounts_own_plan(app, account_id):
    """Bug caught: the limit taken from the default (trial) plan instead of the account's plan, in
    reservations or in the quota table."""
    with app.app_context():
        on_plan(account_id, "team")
        assert quotas.use(account_id, "projects", 10) == 10
        with pytest.raises(QuotaExceeded, match="0 left, 1 asked for"):
            quotas.use(account_id, "projects")
        rows = {r.resource.key: r for r in quotas.quota_table(db.session.get(Account, account_id))}
        assert (rows["projects"].limit, rows["projects"].used, rows["containers"].limit) == (10, 10, 20)


def test_the_quota_table_tells_the_plan_and_the_bonus_apart(app, account_id):
    """Bug caught: the bonus left out of a quota row, so the page shows the whole limit as the plan's."""
    with app.app_context():
        quotas.grant_bonus(account_id, {"projects": 2}, "WeChat bound", "bonus:alice")
        rows = {r.resource.key: r for r in quotas.quota_table(db.session.get(Account, account_id))}
        assert (rows["projects"].limit, rows["projects"].plan, rows["projects"].bonus) == (5, 3, 2)
        assert (rows["containers"].plan, rows["containers"].bonus) == (5, 0)


def test_figures_are_fresh_when_the_session_already_holds_the_usage_rows(app, account_id):
    """Bug caught: the usage row read back without refreshing it: a page that loaded the account's
    usage, then reserved, was told the figure from before the change (and so was the quota table)."""
    with app.app_context():
        quotas.ensure_rows(account_id)
        held = db.session.scalars(sa.select(QuotaUsage).filter_by(account_id=account_id)).all()
        assert quotas.use(account_id, "projects") == 1
        assert quotas.use(account_id, "projects") == 2
        assert quotas.release(account_id, "projects") == 1
        assert quotas.set_usage(account_id, "containers", 4) == 4
        rows = {r.resource.key: r.used for r in quotas.quota_table(db.session.get(Account, account_id))}
        assert (rows["projects"], rows["containers"]) == (1, 4)
        assert len(held) == 3


def reserve_in_another_request(app, account_id):
    with app.app_context():
        quotas.use(account_id, "projects", 2)
        db.session.commit()
        db.session.remove()


def test_the_quota_table_shows_a_change_another_request_made_meanwhile(app, account_id):
    """Bug caught: the quota table built from the usage rows the session already held: a reservation
    committed meanwhile by another request did not show."""
    with app.app_context():
        quotas.ensure_rows(account_id)
        db.session.commit()
        held = db.session.scalars(sa.select(QuotaUsage).filter_by(account_id=account_id)).all()
        elsewhere = threading.Thread(target=reserve_in_another_request, args=(app, account_id))
        elsewhere.start()
        elsewhere.join()
        rows = {r.resource.key: r.used for r in quotas.quota_table(db.session.get(Account, account_id))}
        assert rows["projects"] == 2 and len(held) == 3


REFUSALS = [
    (lambda a: quotas.use(a, "projects", 2), "项目配额不足：剩余 1，需要 2。"),
    (lambda a: quotas.release(a, "services", 2), "无法释放 2 个服务实例：当前只使用了 0 个。"),
    (lambda a: quotas.use(a, "projects", 0), "数量必须是大于零的整数。"),
    (lambda a: quotas.use(a + 1000, "projects"), "没有这个账户。"),
    (lambda a: quotas.use(a, "bitcoins"), "未知的资源 bitcoins。"),
    (lambda a: quotas.set_usage(a, "projects", -1), "用量必须是大于或等于零的整数。"),
    (lambda a: quotas.grant_bonus(a, {}, "nothing", "bonus:empty"), "奖励配额至少要包含一种资源。"),
    (lambda a: quotas.grant_bonus(a, {"projects": 1}, "long", "k" * 129), "奖励配额需要一个不超过 128 个字符的标识。"),
]


@pytest.mark.parametrize("refused, message", REFUSALS)
def test_each_refusal_says_why_in_the_users_language(app, account_id, refused, message):
    """Bugs caught: a refusal shown in English to a Chinese user (its text no longer the catalog's),
    without the resource it is about, or with what is left counted without the bonus (the account
    here has a plan of 3 projects and a bonus of 2, and uses 4)."""
    with app.app_context(), force_locale("zh_CN"):
        quotas.grant_bonus(account_id, {"projects": 2}, "WeChat bound", "bonus:alice")
        quotas.use(account_id, "projects", 4)
        with pytest.raises(QuotaExceeded) as refusal:
            refused(account_id)
        assert refusal.value.message == message


def run_while_holding(app, hold, other):
    """Run ``hold`` in one transaction and, while it is still open, ``other`` in a second one; commit
    the first once the second waits for it (or has finished). Returns what ``other`` returned."""
    outcome, waiting = [], threading.Event()

    def second():
        with app.app_context():
            waiting.set()
            outcome.append(other())
            db.session.remove()

    with app.app_context():
        hold()
        thread = threading.Thread(target=second)
        thread.start()
        waiting.wait()
        if db.session.get_bind().dialect.name == "postgresql":
            # Until the second transaction waits for a lock this one holds, or has finished.
            while thread.is_alive() and not db.session.scalar(sa.text(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )):
                thread.join(0.01)
        db.session.commit()
    thread.join()
    return outcome[0]


def test_a_reservation_waits_for_a_plan_change_in_progress(app, account_id):
    """Bug caught: the account's lock taken on no row or on the wrong one: a reservation checked
    against the old plan while a downgrade was being applied, and the account ended above its new
    plan (on PostgreSQL; SQLite's single writer serializes them anyway)."""

    def downgrade():
        quotas.lock_account(account_id)
        db.session.execute(sa.update(Account).where(Account.id == account_id).values(plan_key="tiny"))

    def reserve():
        try:
            quotas.use(account_id, "projects", 2)
            db.session.commit()
            return "reserved"
        except QuotaExceeded as refusal:
            db.session.rollback()
            return refusal.message

    assert run_while_holding(app, downgrade, reserve) == "Not enough Projects quota: 1 left, 2 asked for."
    with app.app_context():
        assert quotas.quota_table(db.session.get(Account, account_id))[0].used == 0
