"""Notifications are trusted only as far as the channel documents them: only success states pay,
a record commits with its credit, and every answer (the portal's own failures included) is in the
channel's protocol."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from .conftest import (
    CHANNELS,
    CONTROL,
    PAID_STATE,
    accepted,
    balance,
    delivered,
    ledger_ok,
    notify,
    order_row,
    out_trade_no,
    outcomes,
    recharge,
    sandbox_pay,
    signed_notification,
    wait_until,
)

NOT_PAID_STATES = [("wechatpay", state) for state in
                   ("REFUND", "CLOSED", "REVOKED", "PAYERROR", "NOTPAY", "USERPAYING")]
NOT_PAID_STATES += [("alipay", "TRADE_CLOSED"), ("alipay", "WAIT_BUYER_PAY")]


@pytest.mark.parametrize("channel, state", NOT_PAID_STATES)
def test_a_signed_notification_that_is_not_a_payment_is_acknowledged_and_never_credits(
        app, sandbox, payer, channel, state):
    order_id = recharge(payer, "10", channel)
    headers, body = signed_notification(sandbox, channel, out_trade_no(app, order_id), 1000, state)

    answer = payer.post(f"/billing/notify/{channel}", data=body, headers=headers)

    assert answer.status_code == 200
    assert answer.get_data(as_text=True) == "success" or answer.json["code"] == "SUCCESS"
    assert outcomes(app, order_id) == ["not_paid"]
    assert order_row(app, order_id)["state"] == "pending"
    assert balance(app, payer.account_id) == 0


@pytest.mark.parametrize("channel", CHANNELS)
def test_reconciliation_never_credits_a_payment_refunded_at_the_channel(
        app, sandbox, payer, runner, clock, channel):
    order_id = recharge(payer, "20", channel)
    number = out_trade_no(app, order_id)
    sandbox_pay(sandbox, channel, number, drop=-1)
    refunded = requests.post(f"{sandbox.url}{CONTROL[channel]}/refund", json={"out_trade_no": number}, timeout=10)
    assert refunded.status_code == 200, refunded.text

    assert "credited 0" in runner.invoke(args=["portal", "orders", "reconcile"]).output
    assert order_row(app, order_id)["state"] == "pending"
    clock.advance(timedelta(days=1, minutes=1))
    result = runner.invoke(args=["portal", "orders", "expire"])

    assert "credited 0, expired 1" in result.output, result.output
    assert balance(app, payer.account_id) == 0
    assert ledger_ok(runner)


@pytest.fixture
def failing_audit(app):
    """``failing_audit.times = n``: the next n notification records fail to be written, as when the
    database goes away between the credit and its record."""
    from portal.billing.models import PaymentNotification

    class Failure:
        times = 0

    failure = Failure()

    def fail(mapper, connection, target):
        if failure.times > 0:
            failure.times -= 1
            raise sa.exc.OperationalError("INSERT INTO payment_notifications", {}, Exception("server closed"))

    sa.event.listen(PaymentNotification, "before_insert", fail)
    yield failure
    sa.event.remove(PaymentNotification, "before_insert", fail)


@pytest.mark.usefixtures("live_portal", "fast_notifications")
@pytest.mark.parametrize("channel", CHANNELS)
def test_when_the_portal_fails_the_channel_is_told_in_its_protocol_and_its_retry_credits_once(
        app, sandbox, payer, runner, failing_audit, channel):
    order_id = recharge(payer, "10", channel)
    number = out_trade_no(app, order_id)
    failing_audit.times = 1

    sandbox_pay(sandbox, channel, number)

    wait_until(lambda: order_row(app, order_id)["state"] == "paid")
    first = wait_until(lambda: delivered(sandbox, channel, number))[0]
    assert not first["accepted"] and first["status"] >= 500
    if channel == "wechatpay":
        assert json.loads(first["response"])["code"] == "FAIL"
    else:
        assert first["response"] == "fail"
    # The failed delivery left nothing behind: neither its credit nor its record.
    assert outcomes(app, order_id) == ["credited"]
    assert balance(app, payer.account_id) == 1000
    assert ledger_ok(runner)


def test_absurd_notifications_are_refused_in_the_channel_protocol_without_reading_them(app, client):
    form = "a=1&" * 100_000
    many_fields = client.post("/billing/notify/alipay", data=form,
                              content_type="application/x-www-form-urlencoded")
    huge = client.post("/billing/notify/wechatpay", data=b"{" + b" " * 2_000_000 + b"}",
                       content_type="application/json")
    absurd_time = client.post("/billing/notify/wechatpay", data=b"{}", content_type="application/json",
                              headers={"Wechatpay-Timestamp": "9" * 400})

    assert (many_fields.status_code, many_fields.get_data(as_text=True)) == (200, "fail")
    for refused in (huge, absurd_time):
        assert refused.status_code == 400 and refused.json["code"] == "FAIL"
    assert outcomes(app) == ["invalid"] * 3


def test_the_channels_are_told_the_site_name_and_order_number_only(app, sandbox, org_member):
    client, _ = org_member("admin")
    for channel in CHANNELS:
        number = out_trade_no(app, recharge(client, "1", channel))
        shown = requests.get(f"{sandbox.url}{CONTROL[channel]}/orders/{number}", timeout=10).json()
        subject = shown["description" if channel == "wechatpay" else "subject"]
        assert subject.startswith("Portal") and subject.endswith(number), subject
        assert "Org" not in subject


def _open(app, account_id, channel="wechatpay", amount_fen=1000):
    """A pending order opened directly (no charge at the channel): (order id, its out_trade_no)."""
    from portal.billing import orders

    with app.app_context():
        order = orders.open_order(account_id, channel, amount_fen)
        return order.id, order.current_attempt.out_trade_no


def _records(app):
    from portal.billing.models import PaymentNotification
    from portal.extensions import db

    with app.app_context():
        rows = db.session.scalars(sa.select(PaymentNotification).order_by(PaymentNotification.id))
        return [
            {key: getattr(row, key) for key in
             ("channel", "outcome", "out_trade_no", "transaction_id", "amount_fen", "order_id", "received_at")}
            for row in rows
        ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_payment_is_credited_to_its_own_order_not_the_oldest_one(
        app, client, sandbox, make_account, runner, channel):
    """Bug caught: the attempt looked up without its out_trade_no filter, so every notification
    paid the oldest order (and credited its account)."""
    first_account, second_account = make_account(), make_account()
    first, _ = _open(app, first_account, channel)
    second, number = _open(app, second_account, channel)

    answer = notify(client, sandbox, channel, number, 1000, transaction_id="4200second")

    assert accepted(channel, answer)
    assert order_row(app, second)["state"] == "paid"
    assert order_row(app, first)["state"] == "pending"
    assert (balance(app, second_account), balance(app, first_account)) == (1000, 0)
    assert [(r["order_id"], r["outcome"]) for r in _records(app)] == [(second, "credited")]
    assert ledger_ok(runner)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_not_paid_notice_is_never_credited_even_with_a_transaction_id(app, client, sandbox, make_account, channel):
    """Bug caught: the ``notice.paid`` condition dropped, so a signed "closed" or "waiting" notice
    for a pending order credited it."""
    account_id = make_account()
    order_id, number = _open(app, account_id, channel)
    state = {"wechatpay": "CLOSED", "alipay": "WAIT_BUYER_PAY"}[channel]

    answer = notify(client, sandbox, channel, number, 1000, transaction_id="4200closed", state=state)

    assert accepted(channel, answer)
    assert order_row(app, order_id)["state"] == "pending"
    assert balance(app, account_id) == 0
    assert [r["outcome"] for r in _records(app)] == ["not_paid"]


def test_a_payment_notified_by_another_channel_than_the_orders_is_refused(app, client, sandbox, make_account, caplog):
    """Bug caught: the wrong-channel check removed, so a payment through one channel paid an order
    made for another (whose channel never took that money)."""
    account_id = make_account()
    order_id, number = _open(app, account_id, "alipay")

    with caplog.at_level("ERROR", logger="portal.billing.notifications"):
        answer = notify(client, sandbox, "wechatpay", number, 1000, transaction_id="4200wrong")

    assert not accepted("wechatpay", answer)
    assert order_row(app, order_id)["state"] == "pending"
    assert balance(app, account_id) == 0
    record, = _records(app)
    assert (record["channel"], record["outcome"], record["order_id"]) == ("wechatpay", "wrong_channel", order_id)
    assert any("wrong_channel" in r.getMessage() and number in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_channels_transaction_id_is_stored_so_a_second_real_payment_is_a_conflict(
        app, client, sandbox, make_account, caplog, channel):
    """Bug caught: the transaction id stored as NULL, so a second, different payment of the same
    order passed as a duplicate of the first and no operator heard of the money."""
    from portal.billing import orders
    from portal.extensions import db

    account_id = make_account()
    order_id, number = _open(app, account_id, channel)
    notify(client, sandbox, channel, number, 1000, transaction_id="4200first")
    with app.app_context():
        assert db.session.get(orders.Order, order_id).transaction_id == "4200first"

    with caplog.at_level("ERROR", logger="portal.billing.notifications"):
        again = notify(client, sandbox, channel, number, 1000, transaction_id="4200second")

    assert accepted(channel, again)
    assert [(r["outcome"], r["transaction_id"]) for r in _records(app)] == [
        ("credited", "4200first"), ("conflict", "4200second")]
    assert balance(app, account_id) == 1000
    alert, = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "4200second" in alert.getMessage() and number in alert.getMessage()
    assert "conflict" in alert.getMessage()


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_late_payment_of_a_closed_order_is_credited(app, client, sandbox, make_account, channel):
    """Bug caught: CLOSED missing from the states a payment may leave, so money paid after the user
    gave up on the order (the channel took it) was never credited."""
    from portal.billing import orders
    from portal.extensions import db

    account_id = make_account()
    order_id, number = _open(app, account_id, channel)
    with app.app_context():
        assert orders.close(db.session.get(orders.Order, order_id))

    answer = notify(client, sandbox, channel, number, 1000)

    assert accepted(channel, answer)
    assert order_row(app, order_id)["state"] == "paid"
    assert balance(app, account_id) == 1000


OUTCOMES = ["credited", "duplicate", "amount_mismatch", "conflict", "not_paid", "unknown_order",
            "wrong_channel", "invalid"]
# What each outcome tells the channel: stop resending (True) or try again later (False).
ACCEPTED_OUTCOMES = {"credited", "duplicate", "amount_mismatch", "conflict", "not_paid"}
# The outcomes an operator must look at: logged at ERROR with the order number and transaction.
ALERTED_OUTCOMES = {"amount_mismatch", "conflict", "unknown_order", "wrong_channel"}


def _deliver(app, client, sandbox, make_account, channel, outcome):
    """Make the portal reach ``outcome`` with one notification (after any set-up deliveries);
    returns (the portal's answer, the out_trade_no, the transaction id, the order id or None)."""
    other = "alipay" if channel == "wechatpay" else "wechatpay"
    order_id, number = _open(app, make_account(), other if outcome == "wrong_channel" else channel)
    if outcome in ("duplicate", "conflict"):
        notify(client, sandbox, channel, number, 1000, transaction_id="4200earlier")
    transaction_id = "4200earlier" if outcome == "duplicate" else "4200" + outcome.replace("_", "")
    if outcome == "unknown_order":
        number, order_id = "20260101" + "0" * 16, None
    if outcome == "invalid":
        headers, body = signed_notification(sandbox, channel, number, 1000, PAID_STATE[channel], transaction_id)
        return client.post(f"/billing/notify/{channel}", data=body[:-2], headers=headers), number, None, order_id
    amount = 999 if outcome == "amount_mismatch" else 1000
    state = {"wechatpay": "NOTPAY", "alipay": "WAIT_BUYER_PAY"}[channel] if outcome == "not_paid" else None
    answer = notify(client, sandbox, channel, number, amount, transaction_id=transaction_id, state=state)
    return answer, number, transaction_id, order_id


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_each_outcome_gets_its_reply_its_record_and_its_alert(
        app, client, sandbox, make_account, caplog, channel, outcome):
    """Bugs caught: a wrong reply for an outcome (a channel that stops resending a payment we could
    not match, or resends forever one we recorded), an audit row missing a field, an operator
    alert lost or raised for a normal delivery."""
    with caplog.at_level("WARNING", logger="portal.billing.notifications"):
        answer, number, transaction_id, order_id = _deliver(app, client, sandbox, make_account, channel, outcome)

    assert accepted(channel, answer) == (outcome in ACCEPTED_OUTCOMES)
    if channel == "wechatpay" and outcome not in ACCEPTED_OUTCOMES:
        assert (answer.status_code, answer.json["code"]) == (400, "FAIL")
    if channel == "alipay":
        assert answer.status_code == 200
    record = _records(app)[-1]
    assert (record["channel"], record["outcome"]) == (channel, outcome)
    assert record["received_at"] is not None
    if outcome == "invalid":
        assert (record["out_trade_no"], record["transaction_id"], record["order_id"]) == (None, None, None)
    else:
        expected_transaction = None if outcome == "not_paid" and channel == "wechatpay" else transaction_id
        assert (record["out_trade_no"], record["transaction_id"], record["order_id"]) == (
            number, expected_transaction, order_id)
        assert record["amount_fen"] == (999 if outcome == "amount_mismatch" else 1000)
    alerts = [r for r in caplog.records if r.levelname == "ERROR"]
    if outcome in ALERTED_OUTCOMES:
        alert, = alerts
        assert number in alert.getMessage() and outcome in alert.getMessage()
        assert transaction_id in alert.getMessage() and channel in alert.getMessage()
        assert f"{record['amount_fen']} fen" in alert.getMessage()
    else:
        assert alerts == []
    if outcome == "invalid":
        assert [r.levelname for r in caplog.records] == ["WARNING"]


class SlippingChannel:
    """A payment plugin whose parser hands the core whatever notice it was given: the core's own
    checks are what stands between a plugin's slip and a credit."""

    label = "Slipping"

    def __init__(self, name, notice):
        self.name, self.notice = name, notice

    def parse_notification(self, headers, body):
        return self.notice

    def acknowledge(self, accepted, failure=False):
        from portal.billing.channels import Acknowledgement

        return Acknowledgement("accepted" if accepted else "refused")


@pytest.mark.parametrize("number_length, transaction_length, valid", [
    (24, 64, True), (24, 65, False), (65, 10, False), (0, 10, False), (24, 0, False)])
def test_identifiers_longer_than_the_columns_or_missing_are_refused_from_any_plugin(
        app, make_account, number_length, transaction_length, valid):
    """Bug caught: the core's length and presence checks on a plugin's notice removed or off by one:
    a too-long id fails in the database (the channel retries forever), an empty transaction id
    passes as a duplicate of nothing."""
    from portal.billing import notifications
    from portal.billing.channels import PaymentNotice

    account_id = make_account()
    order_id, number = _open(app, account_id)
    out_trade_no = number[:number_length].ljust(number_length, "0")
    notice = PaymentNotice(out_trade_no, "T" * transaction_length, 1000, True)
    with app.app_context():
        outcome, reply = notifications.handle(SlippingChannel("wechatpay", notice), {}, b"{}", sender="192.0.2.1")

    if valid:
        assert (outcome, reply.body) == ("credited", "accepted")
        assert balance(app, account_id) == 1000
    else:
        assert (outcome, reply.body) == ("invalid", "refused")
        assert balance(app, account_id) == 0
        record, = _records(app)
        assert record["outcome"] == "invalid"


@pytest.mark.parametrize("size, outcome", [(64 * 1024, "unknown_order"), (64 * 1024 + 1, "invalid")])
def test_a_body_past_64_kib_is_refused_unread(app, size, outcome):
    """Bug caught: the body size limit changed or off by one."""
    from portal.billing import notifications
    from portal.billing.channels import PaymentNotice

    channel = SlippingChannel("wechatpay", PaymentNotice("2026" + "0" * 20, "", 1000, False))
    with app.app_context():
        assert notifications.handle(channel, {}, b" " * size)[0] == outcome
        assert notifications.handle(channel, {}, None)[0] == "invalid"


def test_a_rejected_notification_is_recorded_with_its_reason_cut_to_the_column(app):
    """Bug caught: the reason of a rejection not stored (nothing to investigate a forgery with), or
    stored uncut (the record itself fails)."""
    from portal.billing import notifications
    from portal.billing.channels import NotificationError
    from portal.billing.models import PaymentNotification
    from portal.extensions import db

    class Refusing(SlippingChannel):
        def parse_notification(self, headers, body):
            raise NotificationError("bad signature " + "x" * 400)

    with app.app_context():
        assert notifications.handle(Refusing("alipay", None), {}, b"a=1", sender="192.0.2.2")[0] == "invalid"
        record = db.session.scalars(sa.select(PaymentNotification)).one()
        assert record.detail == ("bad signature " + "x" * 400)[:255]
        assert (record.channel, record.outcome) == ("alipay", "invalid")


def _details(app):
    from portal.billing.models import PaymentNotification
    from portal.extensions import db

    with app.app_context():
        return [(row.channel, row.detail) for row in
                db.session.scalars(sa.select(PaymentNotification).order_by(PaymentNotification.id))]


def test_forged_notifications_are_recorded_up_to_the_limit_per_channel_and_per_sender(app, monkeypatch):
    """Bug caught: the record limit keyed without the channel or without the sender: one forger's
    flood would silence the records of every sender, or of every channel."""
    from portal.billing import notifications
    from portal.billing.channels import NotificationError

    class Refusing(SlippingChannel):
        def parse_notification(self, headers, body):
            raise NotificationError("bad signature")

    monkeypatch.setattr(notifications, "INVALID_RECORD_LIMIT", "2/minute")
    with app.app_context():
        for _ in range(3):
            notifications.handle(Refusing("wechatpay", None), {}, b"{}", sender="192.0.2.10")
        assert len(_details(app)) == 2
        notifications.handle(Refusing("wechatpay", None), {}, b"{}", sender="192.0.2.11")
        notifications.handle(Refusing("alipay", None), {}, b"a=1", sender="192.0.2.10")
    assert [channel for channel, _ in _details(app)] == ["wechatpay", "wechatpay", "wechatpay", "alipay"]


@pytest.mark.parametrize("notice_fields, body, reason", [
    (("2026" + "0" * 20, "T1", 1000, True), b" " * (64 * 1024 + 1), "body larger than 65536 bytes"),
    (("2026" + "0" * 61, "T1", 1000, True), b"{}", "order number or transaction id missing or too long"),
    (("2026" + "0" * 20, "", 1000, True), b"{}", "a notice without its order number or transaction id"),
])
def test_each_refusal_of_the_core_is_recorded_with_its_own_reason(app, notice_fields, body, reason):
    """Bug caught: a refusal recorded without its reason (or with another), leaving nothing to
    investigate a plugin's slip or an absurd delivery with."""
    from portal.billing import notifications
    from portal.billing.channels import PaymentNotice

    with app.app_context():
        channel = SlippingChannel("wechatpay", PaymentNotice(*notice_fields))
        assert notifications.handle(channel, {}, body, sender="192.0.2.3")[0] == "invalid"
    assert _details(app) == [("wechatpay", reason)]


def test_the_order_is_paid_at_the_channels_time_not_the_arrival(app, make_account):
    """Bug caught: the channel's payment time dropped: a notification retried hours later dates the
    payment at its arrival."""
    from datetime import datetime

    from portal.billing import notifications
    from portal.billing.channels import PaymentNotice

    account_id = make_account()
    order_id, number = _open(app, account_id)
    paid_at = datetime(2026, 12, 1, 8, 30, 0)
    with app.app_context():
        channel = SlippingChannel("wechatpay", PaymentNotice(number, "T-paid-at", 1000, True, paid_at))
        assert notifications.handle(channel, {}, b"{}", sender="192.0.2.4")[0] == "credited"
    from portal.billing.models import Order
    from portal.extensions import db

    with app.app_context():
        assert db.session.get(Order, order_id).paid_at == paid_at


def test_an_amount_that_is_not_an_integer_is_never_credited_nor_stored(app, make_account):
    """Bug caught: a plugin's amount in yuan text ("10.00") stored in the fen column, or credited."""
    from portal.billing import notifications
    from portal.billing.channels import PaymentNotice

    account_id = make_account()
    order_id, number = _open(app, account_id)
    with app.app_context():
        channel = SlippingChannel("wechatpay", PaymentNotice(number, "T-text-amount", "10.00", True))
        outcome, _ = notifications.handle(channel, {}, b"{}", sender="192.0.2.5")
    assert outcome != "credited" and balance(app, account_id) == 0
    record, = _records(app)
    assert record["amount_fen"] is None and record["order_id"] == order_id
