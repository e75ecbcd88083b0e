"""Orders: pending -> paid | expired | closed, and a payment credits its account exactly once."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest


def _order(account_id, amount_fen=5000, channel="wechatpay", now=None):
    from portal.billing import orders

    return orders.open_order(account_id, channel, amount_fen, now=now)


def test_a_new_order_is_pending_for_one_day_with_a_fresh_out_trade_no(app, make_account, ctx):
    from portal.timeutil import utcnow

    now = utcnow()
    account_id = make_account()
    first, second = _order(account_id, now=now), _order(account_id, now=now)

    assert first.state == "pending"
    assert first.expires_at == now + timedelta(days=1)
    attempt = first.current_attempt
    assert attempt.channel_expires_at <= first.expires_at
    # 24 characters: the day, then 16 random hex digits (fits WeChat's 32 and Alipay's 64).
    assert len(attempt.out_trade_no) == 24 and attempt.out_trade_no.startswith(f"{now:%Y%m%d}")
    assert attempt.out_trade_no.isalnum()
    assert attempt.out_trade_no != second.current_attempt.out_trade_no


def test_payment_credits_the_account_once(app, make_account, ctx):
    from portal.billing import ledger, orders

    account_id = make_account(100)
    order = _order(account_id, 5000)

    assert orders.apply_payment(order, "T1", 5000) == orders.CREDITED
    assert orders.apply_payment(order, "T1", 5000) == orders.DUPLICATE

    assert order.state == "paid" and order.transaction_id == "T1" and order.paid_at is not None
    assert ledger.balance_fen(account_id) == 5100
    recharge = ledger.entries(account_id)[0]
    assert (recharge.kind, recharge.amount_fen, recharge.order_id) == ("recharge", 5000, order.id)
    assert ledger.verify() == []


@pytest.mark.parametrize("paid", [4999, 5001, 50, 500000, 5000.0, "5000", None])
def test_a_different_amount_is_never_credited(app, make_account, ctx, paid):
    from portal.billing import ledger, orders

    account_id = make_account()
    order = _order(account_id, 5000)

    assert orders.apply_payment(order, "T1", paid) == orders.AMOUNT_MISMATCH
    assert order.state == "pending"
    assert ledger.balance_fen(account_id) == 0


def test_a_second_payment_of_a_paid_order_is_a_conflict_not_a_credit(app, make_account, ctx):
    from portal.billing import ledger, orders

    account_id = make_account()
    order = _order(account_id)
    orders.apply_payment(order, "T1", 5000)

    assert orders.apply_payment(order, "T2", 5000) == orders.CONFLICT
    assert order.transaction_id == "T1"
    assert ledger.balance_fen(account_id) == 5000


def test_one_transaction_cannot_pay_two_orders(app, make_account, ctx):
    from portal.billing import ledger, orders

    account_id = make_account()
    first, second = _order(account_id), _order(account_id)
    orders.apply_payment(first, "T1", 5000)

    assert orders.apply_payment(second, "T1", 5000) == orders.CONFLICT
    assert second.state == "pending"
    assert ledger.balance_fen(account_id) == 5000


def test_a_late_payment_after_expiry_is_still_credited(app, make_account, ctx):
    from portal.billing import ledger, orders

    account_id = make_account()
    order = _order(account_id)
    assert orders.expire(order)
    assert order.state == "expired" and order.ended_at is not None
    assert not orders.expire(order)

    assert orders.apply_payment(order, "T1", 5000) == orders.CREDITED
    assert order.state == "paid"
    assert ledger.balance_fen(account_id) == 5000


def test_a_paid_order_never_expires_or_closes(app, make_account, ctx):
    from portal.billing import orders

    order = _order(make_account())
    orders.apply_payment(order, "T1", 5000)

    assert not orders.expire(order)
    assert not orders.close(order)
    assert order.state == "paid"


def test_history_is_newest_first_with_keyset_pages(app, make_account, ctx):
    from portal.billing import orders

    account_id, other = make_account(), make_account()
    ids = [_order(account_id, 100 + i).id for i in range(5)]
    _order(other)

    page1 = orders.history(account_id, limit=2)
    page2 = orders.history(account_id, before_id=page1[-1].id, limit=2)
    page3 = orders.history(account_id, before_id=page2[-1].id, limit=2)

    assert [o.id for o in page1 + page2 + page3] == ids[::-1]


def test_fifty_concurrent_payments_of_one_order_credit_once(app, make_account):
    from portal.billing import ledger, orders
    from portal.extensions import db

    account_id = make_account()
    with app.app_context():
        order_id = _order(account_id).id
    outcomes, barrier = [], threading.Barrier(50)

    def pay():
        with app.app_context():
            order = orders.get_order(order_id)
            db.session.commit()  # give the connection back: 50 threads share a smaller pool
            barrier.wait(timeout=60)
            outcomes.append(orders.apply_payment(order, "T-same", 5000))
            db.session.remove()

    threads = [threading.Thread(target=pay) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["credited"] + ["duplicate"] * 49
    with app.app_context():
        assert ledger.balance_fen(account_id) == 5000
        assert ledger.verify() == []


def test_a_payment_changes_only_its_own_order(app, make_account, ctx):
    """Bug caught: the state change without ``Order.id == order_id``: one payment marked every
    payable order paid (with the same transaction id)."""
    from portal.billing import ledger, orders

    account_id, other_account = make_account(), make_account()
    paid, sibling, elsewhere = _order(account_id), _order(account_id), _order(other_account)

    assert orders.apply_payment(paid, "T1", 5000) == orders.CREDITED

    for untouched in (sibling, elsewhere):
        orders.db.session.refresh(untouched)
        assert (untouched.state, untouched.transaction_id, untouched.paid_at) == ("pending", None, None)
    assert (ledger.balance_fen(account_id), ledger.balance_fen(other_account)) == (5000, 0)
    assert orders.apply_payment(sibling, "T2", 5000) == orders.CREDITED


def test_expiring_or_closing_one_order_leaves_the_others_pending(app, make_account, ctx):
    """Bug caught: expire or close without the order's id in its UPDATE."""
    from portal.billing import orders

    account_id = make_account()
    expired, closed, untouched = _order(account_id), _order(account_id), _order(account_id)

    assert orders.expire(expired) and orders.close(closed)

    orders.db.session.refresh(untouched)
    assert (expired.state, closed.state, untouched.state) == ("expired", "closed", "pending")
    assert untouched.ended_at is None
    assert not orders.close(expired) and not orders.expire(closed)


def test_a_payment_after_the_user_closed_the_order_is_still_credited(app, make_account, ctx):
    """Bug caught: CLOSED dropped from the states a payment may leave: the channel took the money
    and the account never saw it."""
    from portal.billing import ledger, orders
    from portal.timeutil import utcnow

    account_id = make_account()
    order = _order(account_id)
    assert orders.close(order)
    paid_at = utcnow().replace(microsecond=0)

    assert orders.apply_payment(order, "T-late", 5000, paid_at=paid_at) == orders.CREDITED
    assert (order.state, order.transaction_id, order.paid_at) == ("paid", "T-late", paid_at)
    assert ledger.balance_fen(account_id) == 5000
    assert orders.apply_payment(order, "T-late", 5000) == orders.DUPLICATE


def test_the_attempt_is_found_by_its_own_out_trade_no(app, make_account, ctx):
    """Bug caught: the look-up without its out_trade_no filter, which answers the oldest attempt
    (or fails) once there are two."""
    from portal.billing import orders

    first, second = _order(make_account()), _order(make_account())
    number = second.current_attempt.out_trade_no

    assert orders.attempt_by_out_trade_no(number).order.id == second.id
    assert orders.attempt_by_out_trade_no(first.current_attempt.out_trade_no).order.id == first.id
    assert orders.attempt_by_out_trade_no("2026" + "0" * 20) is None


@pytest.mark.parametrize("state", ["paid", "expired", "closed"])
def test_an_order_that_is_not_pending_is_never_offered_a_new_qr(app, make_account, ctx, clock, state):
    """Bug caught: the state guard of ``charge`` removed: a paid (or ended) order whose QR code
    expired at the channel got a fresh one, and the buyer could pay it twice."""
    from datetime import timedelta

    from portal.billing import orders
    from portal.billing.channels import payment_channels

    order = _order(make_account())
    {"paid": lambda: orders.apply_payment(order, "T1", 5000), "expired": lambda: orders.expire(order),
     "closed": lambda: orders.close(order)}[state]()
    channel = payment_channels()["wechatpay"]
    for moment in (timedelta(), orders.CHANNEL_QR_LIFETIME):
        clock.advance(moment)
        with pytest.raises(orders.OrderNotPayable):
            orders.charge(order, channel)
    orders.db.session.refresh(order)
    assert len(order.attempts) == 1 and order.current_attempt.qr_payload is None


def test_a_pending_order_past_its_expiry_is_not_offered_a_qr(app, make_account, ctx, clock):
    """Bug caught: the expiry check of ``charge`` dropped or off by one: an order kept past its
    day (expiry job late) could still be paid at a new QR."""
    from portal.billing import orders
    from portal.billing.channels import payment_channels

    order = _order(make_account())
    clock.advance(orders.ORDER_LIFETIME)

    with pytest.raises(orders.OrderNotPayable):
        orders.charge(order, payment_channels()["wechatpay"])


def test_the_pending_order_limit_counts_only_this_accounts_pending_orders(app, make_account, ctx):
    """Bug caught: the count of pending orders without its account or state filter: one busy
    account (or old paid orders) blocked recharges everywhere."""
    from portal.billing import orders

    app.config["RECHARGE_MAX_PENDING_ORDERS"] = 2
    busy, mine = make_account(), make_account()
    _order(busy), _order(busy)
    paid = _order(mine)
    orders.apply_payment(paid, "T-old", 5000)

    _order(mine)
    _order(mine)
    with pytest.raises(orders.TooManyPendingOrders) as refused:
        _order(mine)
    assert refused.value.limit == 2 and str(refused.value) == "at most 2 pending orders per account"


def test_only_held_orders_are_listed_for_the_operator(app, make_account, ctx):
    """Bug caught: ``held()`` without its state filter: every order listed for a refund."""
    from portal.accounts.models import Account
    from portal.billing import orders
    from portal.timeutil import utcnow

    open_account, closing = make_account(), make_account()
    paid, pending = _order(open_account), _order(open_account)
    held = _order(closing)
    orders.apply_payment(paid, "T-paid", 5000)
    orders.db.session.get(Account, closing).closed_at = utcnow()
    orders.db.session.commit()

    assert orders.apply_payment(held, "T-held", 5000) == orders.HELD_FOR_OPERATOR
    assert (held.state, held.transaction_id) == ("held", "T-held")
    assert [o.id for o in orders.held()] == [held.id]
    assert pending.state == "pending"


@pytest.mark.parametrize("amount", [0, -100, 1.5, 5000.0, "5000", True, None])
def test_an_order_is_opened_only_for_a_positive_integer_of_fen(app, make_account, ctx, amount):
    """Bugs caught: the amount check with ``and`` (a float or text amount opened), or off by one
    (an order of 0 fen opened, one of 1 fen refused)."""
    account_id = make_account()
    with pytest.raises(ValueError, match="positive integer of fen"):
        _order(account_id, amount)
    assert _order(account_id, 1).amount_fen == 1


def test_expiring_or_closing_an_order_records_when_it_ended(app, make_account, ctx):
    """Bug caught: ``ended_at`` not stored, or stored as the clock's time instead of the caller's."""
    from portal.billing import orders
    from portal.timeutil import utcnow

    account_id = make_account()
    expired, closed = _order(account_id), _order(account_id)
    then = utcnow().replace(microsecond=0) - timedelta(hours=1)

    assert orders.expire(expired, then) and orders.close(closed, then)

    assert (expired.ended_at, closed.ended_at) == (then, then)


def test_a_payment_without_a_channel_time_is_paid_at_the_callers_time(app, make_account, ctx):
    """Bug caught: the caller's ``now`` ignored for the clock's when the channel gave no time."""
    from portal.billing import orders
    from portal.timeutil import utcnow

    order = _order(make_account())
    then = utcnow().replace(microsecond=0) - timedelta(minutes=5)

    assert orders.apply_payment(order, "T1", 5000, then) == orders.CREDITED
    assert order.paid_at == then


def test_history_pages_hold_twenty_orders_by_default(app, make_account, ctx):
    """Bug caught: the default page size changed: a page one order longer (or shorter) than the
    page links expect."""
    from portal.billing import orders

    app.config["RECHARGE_MAX_PENDING_ORDERS"] = 30
    account_id = make_account()
    ids = [_order(account_id, 100 + i).id for i in range(21)]

    assert [o.id for o in orders.history(account_id)] == ids[:0:-1]
