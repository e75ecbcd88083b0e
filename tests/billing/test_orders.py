"""Orders: pending -> paid | expired | closed, and a payment credits its account exactly once."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


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
    assert len(attempt.out_trade_no) <= 32 and attempt.out_trade_no.isalnum()
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
