"""Starting recharges is limited: per user and per account over time, and an account holds at most
RECHARGE_MAX_PENDING_ORDERS unpaid orders (each one costs a call to the channel)."""
from __future__ import annotations

import threading

import pytest

from .conftest import recharge

EN = {"Accept-Language": "en"}


def _pending(app, account_id):
    from portal.billing.models import Order
    from portal.extensions import db

    with app.app_context():
        return db.session.scalar(
            db.select(db.func.count()).select_from(Order).filter_by(account_id=account_id, state="pending")
        )


@pytest.mark.usefixtures("live_portal")
def test_past_the_pending_order_limit_the_page_asks_to_pay_or_close_one(app, payer):
    app.config["RECHARGE_MAX_PENDING_ORDERS"] = 2
    first = recharge(payer, "10")
    recharge(payer, "11")

    refused = payer.submit("/billing/recharge", {"amount": "12", "channel": "wechatpay"}, headers=EN)

    assert refused.status_code == 409
    assert "already has 2 unpaid orders" in refused.get_data(as_text=True)
    assert _pending(app, payer.account_id) == 2
    closed = payer.submit(f"/billing/orders/{first}/close", {}, page="/billing/history")
    assert closed.status_code == 302
    recharge(payer, "12")
    assert _pending(app, payer.account_id) == 2


@pytest.mark.usefixtures("live_portal")
def test_starting_many_recharges_quickly_is_refused_with_the_wait(app, payer):
    app.config["RECHARGE_START_LIMITS"] = "3/hour"
    for amount in ("1", "2", "3"):
        recharge(payer, amount)

    refused = payer.submit("/billing/recharge", {"amount": "4", "channel": "alipay"}, headers=EN)

    assert refused.status_code == 429
    assert "Too many recharges" in refused.get_data(as_text=True)
    assert _pending(app, payer.account_id) == 3


def test_the_account_limit_counts_every_user_of_the_account(app, make_account):
    from portal.billing import orders
    from portal.extensions import db

    app.config["RECHARGE_START_LIMITS"] = "2/hour"
    account_id = make_account()
    with app.app_context():
        orders.take_start_allowance(account_id, 1)
        orders.take_start_allowance(account_id, 2)
        with pytest.raises(orders.RechargesRateLimited):
            orders.take_start_allowance(account_id, 3)
        # Refused attempts count nothing: another account of user 3 is not affected.
        other = make_account()
        orders.take_start_allowance(other, 3)
        db.session.rollback()


def test_concurrent_starts_never_exceed_the_pending_order_limit(app, make_account):
    from portal.billing import orders
    from portal.extensions import db

    app.config["RECHARGE_MAX_PENDING_ORDERS"] = 3
    account_id = make_account()
    start = threading.Barrier(6)
    outcomes = []

    def open_one():
        with app.app_context():
            start.wait()
            try:
                orders.open_order(account_id, "wechatpay", 100)
                outcomes.append("opened")
            except orders.TooManyPendingOrders:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["opened"] * 3 + ["refused"] * 3
    assert _pending(app, account_id) == 3
