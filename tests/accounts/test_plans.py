"""Plans: the operators' list, trial for every new account, and recorded changes."""
import pytest

from portal.accounts import plans, quotas
from portal.accounts.access import personal_account
from portal.accounts.models import PlanChange
from portal.accounts.plans import PlanError
from portal.extensions import db
from portal.orgs import invitations
from portal.orgs import services as orgs
from portal.users.models import User

PLANS = {
    "starter": {"name": {"zh_CN": "入门版", "en": "Starter"}, "price_fen": 0,
                "quotas": {"projects": 10, "containers": 20, "services": 10}},
    "standard": {"name": "Standard", "price_fen": 9900,
                 "quotas": {"projects": 50, "containers": 100, "services": 50}},
}


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLANS": PLANS}


def test_trial_always_exists_and_comes_first(app):
    with app.app_context():
        listed = plans.plans()
        assert [p.key for p in listed] == ["trial", "starter", "standard"]
        assert listed[0].price_fen == 0 and listed[0].quota("projects") == 3
        assert listed[2].price_fen == 9900


@pytest.mark.parametrize(
    "bad",
    [{"trial": {"price_fen": 100}}, {"pro": {"name": "Pro", "price_fen": 99.0}},
     {"pro": {"name": "Pro", "price_fen": -1}}, {"pro": {"name": "Pro", "quotas": {"projects": True}}},
     {"Pro Plan": {"name": "Pro"}}, {"pro": {"price_fen": 1}}],
)
def test_bad_plan_settings_stop_startup(portal_config, tmp_path, bad):
    from portal import create_app

    with pytest.raises(RuntimeError, match="PLANS"):
        create_app({**portal_config, "PLANS": bad}, instance_path=str(tmp_path))


def test_every_new_account_starts_on_trial(app, users):
    with app.app_context():
        alice = db.session.get(User, users.create("alice"))
        org = orgs.create_organization(alice, "acme", "Acme")
        assert personal_account(alice).plan_key == "trial"
        assert orgs.org_account(org).plan_key == "trial"


def test_changing_to_a_free_plan_takes_effect_and_is_recorded(app, users):
    with app.app_context():
        alice = db.session.get(User, users.create("alice"))
        account = personal_account(alice)
        change = plans.change_plan(account, "starter", alice)
        assert (change.from_plan, change.to_plan, change.actor_id, change.price_fen) == ("trial", "starter", alice.id, 0)
        assert account.plan_key == "starter"
        assert {r.resource.key: r.limit for r in quotas.quota_table(account)}["projects"] == 10


@pytest.mark.parametrize(
    "plan_key, message", [("standard", "recharge first"), ("gold", "no such plan"),
                          ("trial", "already on")],
)
def test_refused_plan_changes_change_nothing(app, users, plan_key, message):
    with app.app_context():
        alice = db.session.get(User, users.create("alice"))
        account = personal_account(alice)
        with pytest.raises(PlanError, match=message):
            plans.change_plan(account, plan_key, alice)
        assert account.plan_key == "trial"
        assert db.session.scalar(db.select(db.func.count()).select_from(PlanChange)) == 0


def test_only_owners_and_admins_change_an_orgs_plan(app, users):
    with app.app_context():
        alice = db.session.get(User, users.create("alice"))
        bob = db.session.get(User, users.create("bob"))
        org = orgs.create_organization(alice, "acme", "Acme")
        invitations.accept_invitation(invitations.invite(org, alice, "bob").id, bob)
        account = orgs.org_account(org)
        with pytest.raises(PlanError, match="Only owners and admins"):
            plans.change_plan(account, "starter", bob)
        with pytest.raises(PlanError, match="Only owners and admins"):
            plans.change_plan(personal_account(alice), "starter", bob)
        orgs.change_role(org, alice, bob.id, "admin")
        assert plans.change_plan(account, "starter", bob).actor_id == bob.id


def test_moving_to_a_plan_too_small_for_current_usage_is_refused(app, users):
    with app.app_context():
        alice = db.session.get(User, users.create("alice"))
        account = personal_account(alice)
        plans.change_plan(account, "starter", alice)
        quotas.use(account.id, "projects", 5)
        db.session.commit()
        with pytest.raises(PlanError, match="more than the"):
            plans.change_plan(account, "trial", alice)
        assert account.plan_key == "starter"
