"""The changes the security log records, each written with the change itself."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.security_log.models import SecurityEvent
from portal.users.models import User

PLANS = {"starter": {"name": "Starter", "price_fen": 0, "quotas": {"projects": 10}}}


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": ["smtp", "aliyun_sms"], "BABEL_DEFAULT_LOCALE": "en",
            "PLANS": PLANS}


def events(kind=None):
    query = db.select(SecurityEvent).order_by(SecurityEvent.id)
    return db.session.scalars(query.filter_by(kind=kind) if kind else query).all()


def test_emails_and_phone(app, users, mailbox):
    client, user_id = users.signed_in_client("eve")
    client.submit("/user/emails", {"address": "eve.work@example.com"})
    with app.app_context():
        [added] = events("email_added")
    assert added.user_id == user_id and added.actor_id == user_id
    assert added.details["address"] != "eve.work@example.com" and added.details["address"].endswith("@example.com")


def test_api_keys_created_and_revoked(app, users):
    from portal.apikeys import services as apikeys

    with app.test_request_context():
        user = db.session.get(User, users.create("kim"))
        key, secret = apikeys.create_key(user, "deploy", ["read"], 30)
        apikeys.revoke_key(user, key)
        created, revoked = events("api_key_created")[0], events("api_key_revoked")[0]
        user_id, prefix = user.id, key.display_prefix
    assert created.details["name"] == "deploy" and secret not in str(created.details)
    assert created.details["prefix"] == prefix
    assert revoked.details["reason"] == "user" and revoked.actor_id == user_id


def test_members_and_roles(app, users):
    from portal.orgs import services as orgs
    from portal.orgs.models import Membership

    with app.test_request_context():
        owner = db.session.get(User, users.create("olga"))
        member_id = users.create("mia")
        org = orgs.create_organization(owner, "acme", "Acme")
        db.session.add(Membership(org_id=org.id, user_id=member_id, role="member"))
        db.session.commit()
        orgs.change_role(org, owner, member_id, "admin")
        orgs.remove_member(org, owner, member_id)
        found = [(e.kind, e.user_id, e.org_id, e.actor_id) for e in events() if e.org_id]
        owner_id, org_id = owner.id, org.id
    owner, org = type("O", (), {"id": owner_id}), type("G", (), {"id": org_id})
    assert found == [("member_added", owner.id, org.id, owner.id),
                     ("member_role_changed", member_id, org.id, owner.id),
                     ("member_removed", member_id, org.id, owner.id)]


def test_plan_change_and_recharge(app, users):
    from portal.accounts import plans
    from portal.accounts.access import personal_account
    from portal.billing import orders

    with app.test_request_context():
        user = db.session.get(User, users.create("pat"))
        account = personal_account(user)
        plans.change_plan(account, "starter", user)
        order = orders.open_order(account.id, "wechatpay", 5000)
        assert orders.apply_payment(order, "T-1", 5000) == orders.CREDITED
        assert orders.apply_payment(order, "T-1", 5000) == orders.DUPLICATE
        [plan] = events("plan_changed")
        [paid] = events("recharge_paid")
        user_id, order_id = user.id, order.id
    assert plan.details == {"from": "trial", "to": "starter", "charged_fen": 0, "when": "at_once"}
    assert plan.user_id == user_id
    assert paid.details == {"amount_fen": 5000, "channel": "wechatpay", "order": order_id}
    assert paid.actor_kind == "system" and paid.user_id == user_id


def test_operator_contact_change(app, users, runner):
    user_id = users.create("opal")
    result = runner.invoke(args=["portal", "users", "set-contact", "opal", "--phone", "13800138123"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        [event] = events("operator_action")
    assert event.actor_kind == "operator" and event.user_id == user_id
    assert event.details["action"] == "set_contact" and "13800138123" not in str(event.details)


def test_operator_quota_commands(app, users, runner):
    user_id = users.create("quinn")
    assert runner.invoke(args=["portal", "quota", "set-usage", "user:quinn", "projects", "1"]).exit_code == 0
    result = runner.invoke(args=["portal", "quota", "bonus", "user:quinn", "projects=2", "--reason", "support",
                                 "--key", "bonus-quinn-1"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        found = [(e.user_id, e.actor_kind, e.details["action"]) for e in events("operator_action")]
    assert found == [(user_id, "operator", "set_usage"), (user_id, "operator", "bonus")]
