"""Deleting an organization closes its pending recharges at the channel first; a payment that won
the race is credited and blocks the deletion; a payment that still arrives afterwards is held for an
operator, never credited to an account nobody can see."""
from __future__ import annotations

import pytest

from .conftest import CHANNELS, balance, ledger_ok, order_row, out_trade_no, outcomes, recharge, sandbox_pay, wait_until

pytestmark = pytest.mark.usefixtures("live_portal", "fast_notifications")


@pytest.fixture
def org_owner(app, users):
    """A signed-in owner whose current account is a new organization's: (client, org id, account id)."""
    from portal.extensions import db
    from portal.orgs import services as orgs
    from portal.users.models import User

    client, owner_id = users.signed_in_client()
    with app.app_context():
        org = orgs.create_organization(db.session.get(User, owner_id), f"org{owner_id}", f"Org {owner_id}")
        org_id, account_id = org.id, orgs.org_account(org).id
    with client.session_transaction() as session:
        session["account_id"] = account_id
    client.owner_id = owner_id
    return client, org_id, account_id


def _delete(app, org_id, owner_id):
    from portal.extensions import db
    from portal.orgs import services as orgs
    from portal.orgs.models import Organization
    from portal.users.models import User

    with app.test_request_context(headers={"Accept-Language": "en"}):
        orgs.delete_organization(db.session.get(Organization, org_id), db.session.get(User, owner_id))


@pytest.mark.parametrize("channel", CHANNELS)
def test_deleting_closes_pending_recharges_at_the_channel(app, sandbox, org_owner, channel):
    import requests

    from .conftest import CONTROL

    client, org_id, account_id = org_owner
    order_id = recharge(client, "30", channel)
    number = out_trade_no(app, order_id)

    _delete(app, org_id, client.owner_id)

    assert order_row(app, order_id)["state"] == "closed"
    paid = requests.post(sandbox.url + CONTROL[channel] + "/pay", json={"out_trade_no": number}, timeout=10)
    assert paid.status_code != 200  # the QR no longer takes money


def test_a_payment_that_won_the_race_is_credited_and_blocks_the_deletion(app, sandbox, org_owner, runner):
    from portal.orgs.services import OrgError

    client, org_id, account_id = org_owner
    order_id = recharge(client, "40", "alipay")
    sandbox_pay(sandbox, "alipay", out_trade_no(app, order_id), drop=-1)  # paid; nobody told us

    with pytest.raises(OrgError, match="balance must be zero"):
        _delete(app, org_id, client.owner_id)

    assert order_row(app, order_id)["state"] == "paid"
    assert balance(app, account_id) == 4000
    assert ledger_ok(runner)


def test_deletion_is_refused_while_a_channel_cannot_confirm_an_order_closed(app, sandbox, org_owner):
    from portal.orgs.services import OrgError

    client, org_id, _account_id = org_owner
    order_id = recharge(client, "50", "wechatpay")
    app.config["PLUGINS_DISABLED"] = ()
    from portal.billing import channels

    original = channels.payment_channels
    try:
        channels.payment_channels = lambda: {}
        with pytest.raises(OrgError, match="could not be closed"):
            _delete(app, org_id, client.owner_id)
    finally:
        channels.payment_channels = original
    assert order_row(app, order_id)["state"] == "pending"
    with app.app_context():
        from portal.orgs import services as orgs

        assert orgs.find_org(f"org{client.owner_id}") is not None


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_payment_after_the_deletion_is_held_for_an_operator(app, sandbox, org_owner, runner, channel):
    from portal.billing import orders

    client, org_id, account_id = org_owner
    order_id = recharge(client, "60", channel)
    with app.app_context():
        orders.expire(orders.get_order(order_id))  # expired here, still payable at the channel
    _delete(app, org_id, client.owner_id)

    sandbox_pay(sandbox, channel, out_trade_no(app, order_id), duplicate=3)

    wait_until(lambda: len(outcomes(app, order_id)) >= 3)
    assert outcomes(app, order_id) == ["duplicate", "duplicate", "held"]
    assert order_row(app, order_id)["state"] == "held"
    assert balance(app, account_id) == 0
    listed = runner.invoke(args=["portal", "orders", "held"])
    assert f"order {order_id}:" in listed.output and "6000 fen" in listed.output
    verified = runner.invoke(args=["portal", "ledger", "verify"])
    assert verified.exit_code == 0
    assert "held for an operator" in verified.output and str(order_id) in verified.output


def test_a_closed_account_takes_no_new_orders_and_no_credit(app, make_account):
    from portal.billing import ledger, orders
    from portal.extensions import db
    from portal.accounts.models import Account
    from portal.timeutil import utcnow

    account_id = make_account()
    with app.app_context():
        order = orders.open_order(account_id, "wechatpay", 700)
        db.session.get(Account, account_id).closed_at = utcnow()
        db.session.commit()

        with pytest.raises(orders.AccountClosed):
            orders.open_order(account_id, "wechatpay", 700)
        assert orders.apply_payment(order, "T-late", 700) == orders.HELD_FOR_OPERATOR
        assert orders.apply_payment(order, "T-late", 700) == orders.DUPLICATE
        assert orders.apply_payment(order, "T-other", 700) == orders.CONFLICT
        with pytest.raises(ledger.AccountClosed):
            ledger.credit(account_id, 1, "adjustment")
        db.session.rollback()
        assert ledger.balance_fen(account_id) == 0
        assert [o.id for o in orders.held()] == [order.id]
        assert ledger.verify() == []
