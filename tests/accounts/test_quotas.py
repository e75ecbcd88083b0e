"""Quotas: limits from the plan plus bonuses, usage changed only atomically."""
import threading

import pytest

from portal.accounts import quotas
from portal.accounts.access import personal_account
from portal.accounts.models import QuotaBonus, QuotaUsage
from portal.accounts.quotas import QuotaExceeded, Resource
from portal.extensions import db
from portal.plugins import hookimpl
from portal.users.models import User


class GpuPlugin:
    @hookimpl
    def portal_quota_resources(self):
        return [Resource("gpus", {"zh_CN": "GPU", "en": "GPUs"}, "cards")]


@pytest.fixture
def portal_config(portal_config):
    return {
        **portal_config,
        "PLUGINS_EXTRA": [GpuPlugin()],
        "PLANS": {"trial": {"quotas": {"projects": 3, "containers": 5, "services": 3, "gpus": 1}}},
    }


@pytest.fixture
def account_id(app, users):
    with app.app_context():
        return personal_account(db.session.get(User, users.create("alice"))).id


def table(account_id):
    from portal.accounts.models import Account

    return {r.resource.key: (r.limit, r.used, r.left) for r in quotas.quota_table(db.session.get(Account, account_id))}


def test_core_and_plugin_resources(app):
    with app.app_context():
        assert [r.key for r in quotas.resources()] == ["projects", "containers", "services", "gpus"]


class StoragePlugin:
    @hookimpl
    def portal_quota_resources(self):
        return [Resource("buckets", "Buckets"), Resource("projects", "Plugin projects")]


def test_every_plugin_resource_is_offered_and_none_replaces_a_core_one(portal_config):
    """Bug caught: plugin resources gathered under one key: only the first plugin's first resource
    offered, and the others silently without a quota."""
    from portal import create_app

    app = create_app(dict(portal_config, PLUGINS_EXTRA=[GpuPlugin(), StoragePlugin()]))
    with app.app_context():
        found = quotas.resources()
        assert [r.key for r in found][:3] == ["projects", "containers", "services"]
        assert sorted(r.key for r in found[3:]) == ["buckets", "gpus"]
        assert found[0] is quotas.CORE_RESOURCES[0]


def test_a_new_account_has_the_trial_quota(app, account_id):
    with app.app_context():
        assert table(account_id) == {
            "projects": (3, 0, 3), "containers": (5, 0, 5), "services": (3, 0, 3), "gpus": (1, 0, 1),
        }


def test_use_and_release_up_to_the_limit(app, account_id):
    with app.app_context():
        assert quotas.use(account_id, "projects") == 1
        assert quotas.use(account_id, "projects", 2) == 3
        with pytest.raises(QuotaExceeded, match="0 left, 1 asked for"):
            quotas.use(account_id, "projects")
        assert quotas.release(account_id, "projects", 3) == 0
        with pytest.raises(QuotaExceeded, match="only 0 in use"):
            quotas.release(account_id, "projects")
        db.session.commit()
        assert table(account_id)["projects"] == (3, 0, 3)


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, "1"])
def test_amounts_must_be_positive_integers(app, account_id, amount):
    with app.app_context():
        with pytest.raises(QuotaExceeded, match="whole number"):
            quotas.use(account_id, "projects", amount)
        with pytest.raises(QuotaExceeded, match="whole number"):
            quotas.release(account_id, "projects", amount)


def test_unknown_resources_and_accounts(app, account_id):
    with app.app_context():
        with pytest.raises(QuotaExceeded, match="Unknown resource"):
            quotas.use(account_id, "bitcoins")
        with pytest.raises(QuotaExceeded, match="No such account"):
            quotas.use(account_id + 1000, "projects")


def test_bonuses_add_on_top_of_the_plan_once_per_key(app, account_id):
    with app.app_context():
        assert quotas.grant_bonus(account_id, {"projects": 2, "gpus": 1}, "WeChat bound", "wechat-bonus:user:1")
        assert not quotas.grant_bonus(account_id, {"projects": 5}, "retry", "wechat-bonus:user:1")
        db.session.commit()
        assert table(account_id)["projects"] == (5, 0, 5)
        assert table(account_id)["gpus"] == (2, 0, 2)
        assert db.session.scalar(db.select(db.func.count()).select_from(QuotaBonus)) == 1
        assert quotas.use(account_id, "projects", 5) == 5


@pytest.mark.parametrize("grants", [{}, {"projects": 0}, {"projects": -2}, {"bitcoins": 1}])
def test_bad_bonuses_grant_nothing(app, account_id, grants):
    with app.app_context():
        with pytest.raises(QuotaExceeded):
            quotas.grant_bonus(account_id, grants, "bad", "bad-key")
        assert db.session.scalar(db.select(db.func.count()).select_from(QuotaBonus)) == 0


def run_together(count, work):
    barrier, outcomes, lock = threading.Barrier(count), [], threading.Lock()

    def run():
        barrier.wait()
        outcome = work()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_many_concurrent_reservations_against_the_last_unit_exactly_one_wins(app, account_id):
    with app.app_context():
        quotas.use(account_id, "projects", 2)
        db.session.commit()

    def reserve():
        with app.app_context():
            try:
                quotas.use(account_id, "projects")
                db.session.commit()
                return "won"
            except QuotaExceeded:
                db.session.rollback()
                return "refused"

    outcomes = run_together(8, reserve)
    assert outcomes.count("won") == 1, outcomes
    assert outcomes.count("refused") == 7
    with app.app_context():
        assert table(account_id)["projects"] == (3, 3, 0)


def test_concurrent_bonus_grants_with_one_key_grant_once(app, account_id):
    def grant():
        with app.app_context():
            granted = quotas.grant_bonus(account_id, {"services": 1}, "race", "race-key")
            db.session.commit()
            return granted

    outcomes = run_together(6, grant)
    assert outcomes.count(True) == 1, outcomes
    with app.app_context():
        assert table(account_id)["services"] == (4, 0, 4)


def test_concurrent_releases_never_go_below_zero(app, account_id):
    with app.app_context():
        quotas.use(account_id, "containers", 2)
        db.session.commit()

    def give_back():
        with app.app_context():
            try:
                quotas.release(account_id, "containers")
                db.session.commit()
                return "released"
            except QuotaExceeded:
                db.session.rollback()
                return "refused"

    outcomes = run_together(6, give_back)
    assert outcomes.count("released") == 2, outcomes
    with app.app_context():
        assert db.session.scalar(
            db.select(QuotaUsage.used).filter_by(account_id=account_id, resource="containers")
        ) == 0


def test_a_deleted_organization_takes_no_more_usage(app, users):
    from portal.orgs import services as orgs
    from portal.orgs.services import org_account

    with app.app_context():
        owner = db.session.get(User, users.create("orgowner"))
        org = orgs.create_organization(owner, "gone", "Gone Inc")
        account_id = org_account(org).id
        quotas.use(account_id, "projects")
        db.session.commit()
        orgs.delete_organization(org, owner)
        with pytest.raises(QuotaExceeded):
            quotas.use(account_id, "projects")


@pytest.fixture
def two_accounts(app, users, account_id):
    """Alice's account and Bob's, each with its usage rows."""
    with app.app_context():
        bob = personal_account(db.session.get(User, users.create("bob"))).id
        quotas.ensure_rows(account_id)
        quotas.ensure_rows(bob)
        db.session.commit()
    return account_id, bob


def test_usage_changes_touch_only_their_own_account(app, two_accounts):
    """Bug caught: the usage UPDATE without its account filter: one account's reservation, release
    or correction changed every account's usage (or, with the rowcount check, failed for all)."""
    alice, bob = two_accounts
    with app.app_context():
        assert quotas.use(alice, "projects", 2) == 2
        assert quotas.use(bob, "projects", 1) == 1
        assert quotas.release(alice, "projects") == 1
        assert quotas.set_usage(bob, "containers", 4) == 4
        db.session.commit()

        assert table(alice)["projects"] == (3, 1, 2) and table(alice)["containers"] == (5, 0, 5)
        assert table(bob)["projects"] == (3, 1, 2) and table(bob)["containers"] == (5, 4, 1)


def test_usage_changes_touch_only_their_own_resource(app, two_accounts):
    """Bug caught: the usage UPDATE without its resource filter."""
    alice, _ = two_accounts
    with app.app_context():
        quotas.use(alice, "containers", 5)
        quotas.set_usage(alice, "services", 2)
        db.session.commit()

        assert {key: used for key, (_, used, _) in table(alice).items()} == {
            "projects": 0, "containers": 5, "services": 2, "gpus": 0}


def test_a_bonus_goes_to_its_own_account_only(app, two_accounts):
    """Bug caught: the bonus UPDATE without its account filter: a bonus to every account."""
    alice, bob = two_accounts
    with app.app_context():
        assert quotas.grant_bonus(alice, {"projects": 2}, "WeChat bound", "bonus:alice")
        db.session.commit()

        assert table(alice)["projects"] == (5, 0, 5)
        assert table(bob)["projects"] == (3, 0, 3)
        with pytest.raises(QuotaExceeded, match="3 left, 4 asked for"):
            quotas.use(bob, "projects", 4)
        assert quotas.use(alice, "projects", 5) == 5


def test_the_limit_is_checked_against_the_accounts_own_usage_and_bonus(app, two_accounts):
    """Bug caught: the look-up of the usage row without its account filter: ``use()`` failing for
    everybody once two accounts exist, or reporting another account's figures."""
    alice, bob = two_accounts
    with app.app_context():
        quotas.use(bob, "projects", 3)
        quotas.grant_bonus(alice, {"projects": 1}, "bonus", "bonus:alice:1")
        with pytest.raises(QuotaExceeded, match="0 left, 1 asked for"):
            quotas.use(bob, "projects")
        assert quotas.use(alice, "projects", 4) == 4
        with pytest.raises(QuotaExceeded, match="0 left, 1 asked for"):
            quotas.use(alice, "projects")


def test_use_up_to_exactly_the_limit_and_release_exactly_what_is_used(app, account_id):
    """Bug caught: the limit or the floor compared with ``<`` instead of ``<=`` (the last unit
    never usable, or the last one never returned)."""
    with app.app_context():
        assert quotas.use(account_id, "gpus") == 1
        quotas.grant_bonus(account_id, {"gpus": 1}, "bonus", "bonus:gpu")
        assert quotas.use(account_id, "gpus") == 2
        assert quotas.release(account_id, "gpus", 2) == 0


@pytest.mark.parametrize("used", [-1, 1.5, True, "3", None])
def test_set_usage_refuses_negative_or_non_integer_usage(app, account_id, used):
    """Bug caught: ``set_usage`` accepting a negative, fractional, boolean or text usage, which
    gives an account more than its quota or breaks every later change."""
    with app.app_context():
        quotas.set_usage(account_id, "projects", 2)
        with pytest.raises(QuotaExceeded, match="whole number, zero or more"):
            quotas.set_usage(account_id, "projects", used)
        assert table(account_id)["projects"] == (3, 2, 1)
        assert quotas.set_usage(account_id, "projects", 0) == 0


def test_set_usage_of_an_unknown_resource_is_refused(app, account_id):
    with app.app_context():
        with pytest.raises(QuotaExceeded, match="Unknown resource"):
            quotas.set_usage(account_id, "bitcoins", 1)


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_a_bonus_key_must_be_given_and_at_most_128_characters(app, account_id, key):
    """Bug caught: a bonus key over 128 characters (or empty) accepted: the unique key that makes a
    bonus once-only would be cut or refused by the database after the grant."""
    with app.app_context():
        with pytest.raises(QuotaExceeded, match="at most 128"):
            quotas.grant_bonus(account_id, {"projects": 1}, "bonus", key)
        assert db.session.scalar(db.select(db.func.count()).select_from(QuotaBonus)) == 0
        assert quotas.grant_bonus(account_id, {"projects": 1}, "bonus", "k" * 128)
        assert table(account_id)["projects"] == (4, 0, 4)


def test_a_bonus_records_its_account_grants_reason_and_time(app, two_accounts):
    """Bug caught: the bonus row stored for the wrong account or without what it granted."""
    alice, bob = two_accounts
    with app.app_context():
        quotas.grant_bonus(bob, {"gpus": 2}, "r" * 300, "bonus:bob")
        row = db.session.scalars(db.select(QuotaBonus)).one()
        assert (row.account_id, row.grants, row.reason, row.key) == (bob, {"gpus": 2}, "r" * 255, "bonus:bob")
        assert row.created_at is not None
