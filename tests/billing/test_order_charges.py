"""Charges: what the channel is asked for an order, when its QR code is reused or renewed, and how
often recharges may be started."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa


class RecordingChannel:
    """A payment plugin that takes every charge and remembers what the core asked of it: the
    charges, the attempts it was told to close, and (``paid``) attempts a buyer paid meanwhile."""

    name = "wechatpay"
    label = "Recording"

    def __init__(self):
        self.charges, self.closed, self.paid = [], [], {}

    def create_charge(self, request):
        from portal.billing.channels import Charge

        self.charges.append(request)
        return Charge(f"weixin://wxpay/bizpayurl?pr={request.out_trade_no}")

    def close(self, out_trade_no):
        self.closed.append(out_trade_no)

    def query(self, out_trade_no):
        from portal.billing.channels import PaymentStatus

        if out_trade_no in self.paid:
            return PaymentStatus("paid", *self.paid[out_trade_no])
        return PaymentStatus("closed" if out_trade_no in self.closed else "pending")


@pytest.fixture
def channel():
    return RecordingChannel()


def _order(account_id, now, amount_fen=5000):
    from portal.billing import orders

    return orders.open_order(account_id, "wechatpay", amount_fen, now=now)


def test_the_channel_is_asked_for_the_attempts_number_amount_expiry_and_notify_address(
        app, make_account, ctx, channel):
    """Bugs caught: a charge request without its expiry (the QR outlives the order) or notify address,
    notifications sent to PUBLIC_URL when the channels reach the portal elsewhere, the QR not kept."""
    from portal.billing import orders
    from portal.billing.channels import ChargeRequest
    from portal.timeutil import utcnow

    app.config["BILLING_NOTIFY_BASE_URL"] = "https://notify.example.com/"
    now = utcnow()
    order = _order(make_account(), now)

    attempt = orders.charge(order, channel, now)

    number = attempt.out_trade_no
    assert channel.charges == [ChargeRequest(
        out_trade_no=number, amount_fen=5000, description=orders.charge_subject(number),
        notify_url="https://notify.example.com/billing/notify/wechatpay", expires_at=now + timedelta(hours=2))]
    assert attempt.channel_expires_at == now + orders.CHANNEL_QR_LIFETIME
    orders.db.session.expire_all()
    assert order.current_attempt.qr_payload == f"weixin://wxpay/bizpayurl?pr={number}"


def test_a_qr_is_reused_while_valid_and_renewed_at_the_margin_before_it_expires(app, make_account, ctx, channel):
    """Bugs caught: a QR renewed on every visit (a charge per page view), kept up to or past its
    expiry at the channel, or replaced without closing the old one there (two payable codes)."""
    from portal.billing import orders
    from portal.timeutil import utcnow

    now = utcnow()
    order = _order(make_account(), now)
    first = orders.charge(order, channel, now)
    renew_at = first.channel_expires_at - orders.QR_RENEW_MARGIN

    assert orders.charge(order, channel, renew_at - timedelta(seconds=1)).id == first.id
    assert len(channel.charges) == 1 and channel.closed == []

    second = orders.charge(order, channel, renew_at)

    assert second.out_trade_no != first.out_trade_no
    assert channel.closed == [first.out_trade_no] and first.closed_at == renew_at
    assert [c.out_trade_no for c in channel.charges] == [first.out_trade_no, second.out_trade_no]
    assert second.channel_expires_at == renew_at + orders.CHANNEL_QR_LIFETIME
    assert order.current_attempt.id == second.id and order.state == "pending"


def test_an_attempt_closed_at_the_channel_is_replaced_before_its_expiry_without_closing_it_again(
        app, make_account, ctx, channel):
    """Bug caught: a QR closed at the channel (by a cancel or a reconciliation run) shown again
    because it had not expired yet: a code nobody can pay."""
    from portal.billing import orders, reconcile
    from portal.timeutil import utcnow

    now = utcnow()
    order = _order(make_account(), now)
    first = orders.charge(order, channel, now)
    reconcile.close_attempt(order, first, channel, now)

    second = orders.charge(order, channel, now + timedelta(minutes=1))

    assert second.id != first.id and second.qr_payload is not None
    assert channel.closed == [first.out_trade_no]


def test_near_the_end_of_its_day_an_orders_new_qr_expires_with_the_order(app, make_account, ctx, channel):
    """Bug caught: a QR renewed late in the order's day stays payable after the order expired."""
    from portal.billing import orders
    from portal.timeutil import utcnow

    now = utcnow()
    order = _order(make_account(), now)
    orders.charge(order, channel, now)

    late = orders.charge(order, channel, now + timedelta(hours=23))

    assert late.channel_expires_at == order.expires_at == channel.charges[-1].expires_at


def test_a_qr_paid_while_it_expired_is_settled_and_the_order_gets_no_new_one(app, make_account, ctx, channel):
    """Bug caught: the state check after closing the expired attempt removed: an order paid at the
    last moment got a new QR code, and the buyer could pay it a second time."""
    from portal.billing import ledger, orders
    from portal.timeutil import utcnow

    now = utcnow()
    account_id = make_account()
    order = _order(account_id, now)
    first = orders.charge(order, channel, now)
    channel.paid[first.out_trade_no] = ("4200last", 5000, now + timedelta(hours=1))

    with pytest.raises(orders.OrderNotPayable):
        orders.charge(order, channel, now + orders.CHANNEL_QR_LIFETIME)

    assert (order.state, order.transaction_id) == ("paid", "4200last")
    assert len(channel.charges) == 1 and len(order.attempts) == 1
    assert ledger.balance_fen(account_id) == 5000


def test_an_order_is_not_payable_from_the_moment_it_expires(app, make_account, ctx, channel):
    """Bugs caught: the expiry check off by one, or the caller's time ignored for the clock's."""
    from portal.billing import orders
    from portal.timeutil import utcnow

    order = _order(make_account(), utcnow())

    with pytest.raises(orders.OrderNotPayable):
        orders.charge(order, channel, order.expires_at)
    assert channel.charges == []


def test_a_recharge_is_opened_at_the_given_time_by_its_user_and_charged_once(app, make_account, ctx, channel):
    """Bugs caught: start_recharge dropping who started it or the time it was given (an order
    back-dated by a caller got a second QR at once)."""
    from portal.accounts.models import Account
    from portal.billing import orders
    from portal.timeutil import utcnow

    account_id = make_account()
    user_id = orders.db.session.get(Account, account_id).user_id
    then = utcnow() - timedelta(hours=3)

    order = orders.start_recharge(account_id, channel, 1234, created_by_id=user_id, now=then)

    assert (order.account_id, order.channel, order.amount_fen, order.created_by_id) == (
        account_id, "wechatpay", 1234, user_id)
    assert (order.created_at, order.expires_at) == (then, then + orders.ORDER_LIFETIME)
    assert len(order.attempts) == 1 and channel.closed == []
    assert [c.out_trade_no for c in channel.charges] == [order.current_attempt.out_trade_no]


def test_one_user_is_limited_across_the_accounts_they_recharge(app, make_account, ctx, channel):
    """Bugs caught: the per-user limit dropped (from start_recharge or from the checks): a user of
    many organizations could start any number of charges; the wait left out of the refusal."""
    from portal.accounts.models import Account
    from portal.billing import orders
    from portal.billing.models import Order

    app.config["RECHARGE_START_LIMITS"] = "2/hour"
    first, second, third = make_account(), make_account(), make_account()
    user_id = orders.db.session.get(Account, first).user_id
    orders.start_recharge(first, channel, 100, created_by_id=user_id)
    orders.start_recharge(second, channel, 100, created_by_id=user_id)

    with pytest.raises(orders.RechargesRateLimited) as refused:
        orders.start_recharge(third, channel, 100, created_by_id=user_id)

    assert 3500 < refused.value.retry_after <= 3600
    assert str(refused.value) == f"too many recharges; retry in {refused.value.retry_after} s"
    assert orders.db.session.scalars(sa.select(Order.account_id).order_by(Order.id)).all() == [first, second]
    orders.start_recharge(third, channel, 100)  # a start by no user counts for the account only


@pytest.mark.parametrize("site, shown", [
    ("Example Cloud", "Example Cloud"), ("", "Portal"), ("S" * 70, "S" * 64)])
def test_the_charge_subject_names_the_site_cut_to_64_characters(app, site, shown):
    """Bugs caught: the configured site name ignored, the fallback name lost, or the cut moved
    (a long name pushed past the channel's subject limit)."""
    from portal.billing import orders

    app.config["SITE_NAME"] = site
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert orders.charge_subject("20261202abc") == f"{shown} recharge, order 20261202abc"
