"""A paid plan needs a verified identity (an organization's: one of its owners'); recharging never does."""
from __future__ import annotations

from .conftest import attempts, invoke, start


def credit(app, user_id=None, account_id=None, fen=100_00):
    from portal.accounts.access import personal_account
    from portal.billing import ledger
    from portal.extensions import db
    from portal.users.models import User

    with app.app_context():
        if account_id is None:
            account_id = personal_account(db.session.get(User, user_id)).id
        ledger.credit(account_id, fen, "adjustment", reference="test")
        db.session.commit()


def verify(app, client, user_id, **kwargs):
    start(client, **kwargs)
    invoke(app, "approve", str(attempts(app, user_id)[-1][0]))


def buy(client, plan="pro"):
    return client.submit("/account/plan", {"plan": plan})


def test_a_paid_plan_is_refused_before_and_bought_after_verification(app, users):
    client, user_id = users.signed_in_client()
    credit(app, user_id)
    refused = buy(client)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'id="identity-required"' in text and "/user/realname/" in text
    verify(app, client, user_id)
    bought = buy(client)
    assert bought.status_code == 302, bought.get_data(as_text=True)[:2000]
    assert "Pro" in client.get("/account/plan").get_data(as_text=True)


def test_free_plans_never_need_it(app, users):
    client, user_id = users.signed_in_client()
    credit(app, user_id)
    app.config["REALNAME_BACKEND"] = None
    assert buy(client).status_code == 302
    app.config["REALNAME_BACKEND"] = "realname_manual"
    assert buy(client, "trial").status_code == 302


def test_an_organization_is_verified_when_an_owner_is(app, users):
    from portal.orgs import services as orgs
    from portal.extensions import db
    from portal.users.models import User

    owner, owner_id = users.signed_in_client("olivia")
    created = owner.submit("/orgs/new", {"name": "Acme", "slug": "acme"})
    assert created.status_code == 302, created.get_data(as_text=True)[:1000]
    with app.app_context():
        org = orgs.find_org("acme")
        account_id = orgs.org_account(org).id
    credit(app, account_id=account_id)
    members = owner.get("/orgs/acme/members").get_data(as_text=True)
    assert 'id="org-realname"' in members and "once one of its owners verifies" in members
    owner.submit("/account/switch", {"account_id": str(account_id)}, page="/account/info")
    refused = buy(owner)
    assert refused.status_code == 400 and "one of its owners must verify" in refused.get_data(as_text=True)
    verify(app, owner, owner_id)
    assert "counts as verified" in owner.get("/orgs/acme/members").get_data(as_text=True)
    assert buy(owner).status_code == 302
