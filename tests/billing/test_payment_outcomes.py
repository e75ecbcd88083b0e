"""What each outcome of a payment leaves behind: the caller's record of it, the security event of a
recharge, the operator's alert and list of held orders, including when two payments race for an
order whose account was closed."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa


def _order(account_id, amount_fen=5000):
    from portal.billing import orders

    return orders.open_order(account_id, "wechatpay", amount_fen)


def _close_account(account_id):
    from portal.accounts.models import Account
    from portal.extensions import db
    from portal.timeutil import utcnow

    db.session.get(Account, account_id).closed_at = utcnow()
    db.session.commit()


def _pay(order, transaction_id, amount_fen=5000):
    """apply_payment with a record callback: (its outcome, the outcomes it recorded)."""
    from portal.billing import orders

    recorded = []
    return orders.apply_payment(order, transaction_id, amount_fen, record=recorded.append), recorded


def test_every_outcome_is_recorded_once_in_its_own_transaction(app, make_account, ctx):
    """Bug caught: an outcome returned without calling ``record`` (a credit, a conflict or a held
    payment with no audit row, so no operator hears of it) or recording another outcome."""
    account_id, closing = make_account(), make_account()
    paid, other, held = _order(account_id), _order(account_id), _order(closing)
    _close_account(closing)

    assert _pay(paid, "T1", 4999) == ("amount_mismatch", ["amount_mismatch"])
    assert _pay(paid, "T1") == ("credited", ["credited"])
    assert _pay(paid, "T1") == ("duplicate", ["duplicate"])
    assert _pay(paid, "T2") == ("conflict", ["conflict"])
    assert _pay(other, "T1") == ("conflict", ["conflict"])  # T1 already paid another order
    assert _pay(held, "T3") == ("held", ["held"])
    assert _pay(held, "T3") == ("duplicate", ["duplicate"])
    assert _pay(held, "T4") == ("conflict", ["conflict"])


@pytest.fixture
def rival(app):
    """``rival(values, order_id)``: once the payment being applied rolls back its credit (the account
    was closed), another process writes ``values`` to order ``order_id`` and commits first."""
    from portal.billing.models import Order
    from portal.extensions import db

    def arm(values, order_id):
        def win(session):
            with db.engine.begin() as connection:
                connection.execute(sa.update(Order).where(Order.id == order_id).values(**values))

        sa.event.listen(db.session(), "after_rollback", win, once=True)

    return arm


@pytest.mark.parametrize("winner, outcome", [("T1", "duplicate"), ("T0", "conflict")])
def test_a_payment_that_loses_the_race_to_hold_its_order_is_a_duplicate_or_a_conflict(
        app, make_account, ctx, rival, winner, outcome):
    """Bugs caught: the loser of the race to hold an order always called a duplicate (a second,
    different payment silently swallowed) or always a conflict (an operator alerted for a retry)."""
    from portal.timeutil import utcnow

    account_id = make_account()
    order = _order(account_id)
    _close_account(account_id)
    rival({"state": "held", "transaction_id": winner, "paid_at": utcnow()}, order.id)

    assert _pay(order, "T1") == (outcome, [outcome])
    assert (order.state, order.transaction_id) == ("held", winner)


def test_a_transaction_that_paid_another_order_meanwhile_does_not_hold_this_one(
        app, make_account, ctx, rival, caplog):
    """Bug caught: the unique transaction id refusing the hold taken as a hold: the payment reported
    held (and alerted as such) while the order stayed pending and nobody held the money."""
    from portal.timeutil import utcnow

    closing, open_account = make_account(), make_account()
    order, elsewhere = _order(closing), _order(open_account)
    _close_account(closing)
    rival({"state": "paid", "transaction_id": "T1", "paid_at": utcnow()}, elsewhere.id)

    with caplog.at_level("ERROR", logger="portal.billing.orders"):
        assert _pay(order, "T1") == ("conflict", ["conflict"])

    assert (order.state, order.transaction_id) == ("pending", None)
    assert not [r for r in caplog.records if r.name == "portal.billing.orders"]


def test_a_held_payment_alerts_the_operator_with_its_order_transaction_and_account(
        app, make_account, ctx, caplog):
    """Bug caught: the operator's alert for a held payment without the order, the transaction or
    the account it names (nothing to refund from)."""
    account_id = make_account()
    order = _order(account_id)
    _close_account(account_id)

    with caplog.at_level("ERROR", logger="portal.billing.orders"):
        assert _pay(order, "T-held")[0] == "held"

    alert, = [r for r in caplog.records if r.name == "portal.billing.orders"]
    assert alert.levelname == "ERROR" and alert.args == (order.id, "T-held", account_id)


def test_held_orders_are_listed_oldest_first_up_to_the_limit(app, make_account, ctx):
    """Bugs caught: the held list without its order (the most recently held first, whatever its
    age) or its default limit changed."""
    from portal.billing import orders
    from portal.billing.models import Order
    from portal.extensions import db
    from portal.timeutil import utcnow

    account_id = make_account()
    older, newer = _order(account_id), _order(account_id)
    _close_account(account_id)
    assert _pay(newer, "T-newer")[0] == _pay(older, "T-older")[0] == "held"

    assert [o.id for o in orders.held()] == [older.id, newer.id]
    assert [o.id for o in orders.held(limit=1)] == [older.id]
    now = utcnow()
    db.session.execute(sa.insert(Order), [
        {"account_id": account_id, "channel": "alipay", "amount_fen": 1, "state": "held",
         "transaction_id": f"T-bulk-{i}", "created_at": now, "expires_at": now + timedelta(days=1)}
        for i in range(500)])
    db.session.commit()
    assert len(orders.held()) == 500


def test_a_recharge_is_a_system_event_of_the_accounts_user_or_organization(app, make_account, users):
    """Bugs caught: the recharge's security event without its user or organization (missing from
    their security log), attributed to the notification's sender, or without its amount, channel
    or order."""
    from portal.accounts.models import Account
    from portal.billing import orders
    from portal.extensions import db
    from portal.orgs import services as orgs
    from portal.security_log.models import SecurityEvent
    from portal.users.models import User

    personal = make_account()
    # Inside a request, as a notification is: its sender is not the actor.
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.7"}):
        org = orgs.create_organization(db.session.get(User, users.create()), "acme", "Acme")
        by_org = _order(orgs.org_account(org).id, 700)
        by_user = _order(personal, 500)
        assert _pay(by_org, "T-org", 700)[0] == _pay(by_user, "T-user", 500)[0] == "credited"
        found = [(e.user_id, e.org_id, e.actor_kind, e.details)
                 for e in db.session.scalars(sa.select(SecurityEvent).filter_by(kind="recharge_paid")
                                             .order_by(SecurityEvent.id))]
        assert found == [
            (None, org.id, "system", {"amount_fen": 700, "channel": "wechatpay", "order": by_org.id}),
            (db.session.get(Account, personal).user_id, None, "system",
             {"amount_fen": 500, "channel": "wechatpay", "order": by_user.id}),
        ]
