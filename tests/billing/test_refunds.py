"""Refunds end to end: an operator's `portal orders refund` through the real channel plugins against the
sandbox, which refunds, answers (or not) and notifies like the providers do."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from .conftest import CONTROL, balance, ledger_ok, out_trade_no, recharge, sandbox_pay, wait_until

pytestmark = pytest.mark.usefixtures("live_portal", "fast_notifications")

REFUND_CHANNELS = ("wechatpay", "alipay")
# A definite refusal in each channel's words: the merchant's own funds are short.
FUNDS_SHORT = {"wechatpay": "NOT_ENOUGH", "alipay": "ACQ.SELLER_BALANCE_NOT_ENOUGH"}


def paid_order(app, sandbox, payer, channel, amount="100"):
    order_id = recharge(payer, amount, channel)
    sandbox_pay(sandbox, channel, out_trade_no(app, order_id))
    wait_until(lambda: payer.get(f"/billing/orders/{order_id}/status").json["state"] == "paid")
    return order_id


def refund(runner, order_id, amount, reason="不想要了"):
    return runner.invoke(args=["portal", "orders", "refund", str(order_id), "--amount", amount, "--reason", reason])


def refunds_of(app, order_id):
    from portal.billing import refunds

    with app.app_context():
        return [(r.out_refund_no, r.amount_fen, r.state) for r in refunds.of_order(order_id)]


def channel_refunds(sandbox, channel, number):
    response = requests.get(f"{sandbox.url}{CONTROL[channel]}/refunds", params={"out_trade_no": number}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def refund_fault(sandbox, channel, **fault):
    response = requests.post(f"{sandbox.url}{CONTROL[channel]}/refund-faults", json=fault, timeout=10)
    assert response.status_code == 200, response.text


def refund_entries(app, account_id):
    from portal.billing import ledger

    with app.app_context():
        return [(e.amount_fen, e.reference) for e in ledger.entries(account_id, limit=100) if e.kind == "refund"]


def settled(app, order_id):
    return all(state in ("succeeded", "failed") for _, _, state in refunds_of(app, order_id))


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_a_partial_refund_goes_back_through_the_channel_that_took_it(app, sandbox, payer, runner, channel):
    order_id = paid_order(app, sandbox, payer, channel)

    result = refund(runner, order_id, "30.50")

    assert result.exit_code == 0, result.output
    wait_until(lambda: refunds_of(app, order_id)[0][2] == "succeeded")
    [(number, amount, _)] = refunds_of(app, order_id)
    assert number in result.output and amount == 3050
    assert balance(app, payer.account_id) == 10000 - 3050
    assert refund_entries(app, payer.account_id) == [(-3050, f"refund:{number}")]
    [made] = channel_refunds(sandbox, channel, out_trade_no(app, order_id))
    assert made["out_refund_no"] == number and made["amount"]["refund"] == 3050
    assert ledger_ok(runner)
    listed = runner.invoke(args=["portal", "orders", "refunds", str(order_id)])
    assert number in listed.output and "30.50" in listed.output and "succeeded" in listed.output


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_a_full_refund_then_nothing_is_left_to_refund(app, sandbox, payer, runner, channel):
    order_id = paid_order(app, sandbox, payer, channel, "88")

    assert refund(runner, order_id, "60").exit_code == 0
    assert refund(runner, order_id, "28").exit_code == 0
    wait_until(lambda: settled(app, order_id))
    more = refund(runner, order_id, "0.01")

    assert more.exit_code == 1 and "¥0.00 of it can still be refunded" in more.output
    assert [state for _, _, state in refunds_of(app, order_id)] == ["succeeded", "succeeded"]
    assert balance(app, payer.account_id) == 0
    assert len(channel_refunds(sandbox, channel, out_trade_no(app, order_id))) == 2
    assert ledger_ok(runner)


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_more_than_was_paid_is_refused_and_changes_nothing(app, sandbox, payer, runner, channel):
    order_id = paid_order(app, sandbox, payer, channel, "50")

    result = refund(runner, order_id, "50.01")

    assert result.exit_code == 1
    assert "was paid ¥50.00 and ¥50.00 of it can still be refunded: ¥50.01 is too much" in result.output
    assert refunds_of(app, order_id) == [] and refund_entries(app, payer.account_id) == []
    assert balance(app, payer.account_id) == 5000
    assert channel_refunds(sandbox, channel, out_trade_no(app, order_id)) == []


def test_more_than_the_balance_is_refused_the_money_must_still_be_there(app, sandbox, payer, runner):
    from portal.billing import ledger
    from portal.extensions import db

    order_id = paid_order(app, sandbox, payer, "wechatpay", "100")
    with app.app_context():
        ledger.debit(payer.account_id, 9000, "plan_charge", reference="spent")
        db.session.commit()

    result = refund(runner, order_id, "20")

    assert result.exit_code == 1
    assert "balance is ¥10.00: a refund of ¥20.00 would take money it no longer has" in result.output
    assert refunds_of(app, order_id) == [] and balance(app, payer.account_id) == 1000
    assert channel_refunds(sandbox, "wechatpay", out_trade_no(app, order_id)) == []
    assert refund(runner, order_id, "10").exit_code == 0


def test_bad_input_is_refused_clearly(app, sandbox, payer, runner):
    order_id = paid_order(app, sandbox, payer, "wechatpay", "10")
    pending = recharge(payer, "10", "wechatpay")

    assert "请用数字 0-9 输入以元为单位的金额" in refund(runner, order_id, "1e3").output
    assert "Give a reason of 1 to 80 characters" in refund(runner, order_id, "1", "x" * 81).output
    assert "not a paid recharge" in refund(runner, pending, "1").output
    assert "There is no order 999999" in refund(runner, 999999, "1").output
    assert refunds_of(app, order_id) == []


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_a_refusal_by_the_channel_releases_the_debit(app, sandbox, payer, runner, channel):
    order_id = paid_order(app, sandbox, payer, channel)
    refund_fault(sandbox, channel, refuse=FUNDS_SHORT[channel])

    result = refund(runner, order_id, "40")

    assert result.exit_code == 1 and FUNDS_SHORT[channel] in result.output
    [(number, _, state)] = refunds_of(app, order_id)
    assert state == "failed"
    assert balance(app, payer.account_id) == 10000
    assert sorted(refund_entries(app, payer.account_id)) == [
        (-4000, f"refund:{number}"), (4000, f"refund-released:{number}")]
    assert ledger_ok(runner)
    # The money released can be refunded again.
    assert refund(runner, order_id, "100").exit_code == 0


@pytest.fixture
def portal_config(portal_config):
    # Answers slower than half a second are lost (the sandbox's "timeout" fault holds them for 3 s).
    plugins = {name: dict(settings) for name, settings in portal_config["PLUGINS"].items()}
    plugins["wechatpay"]["read_timeout_seconds"] = 0.5
    plugins["alipay"]["timeout_seconds"] = 0.5
    return {**portal_config, "PLUGINS": plugins}


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_a_lost_answer_is_settled_by_reconciliation_and_refunds_once(app, sandbox, payer, runner, channel):
    order_id = paid_order(app, sandbox, payer, channel)
    refund_fault(sandbox, channel, timeout=3, notification={"drop": -1})

    result = refund(runner, order_id, "25")

    assert result.exit_code == 0 and "waiting for the channel" in result.output
    [(number, _, state)] = refunds_of(app, order_id)
    assert state == "sending" and balance(app, payer.account_id) == 7500

    reconciled = runner.invoke(args=["portal", "orders", "refunds-reconcile"])

    assert "1 succeeded" in reconciled.output, reconciled.output
    assert refunds_of(app, order_id) == [(number, 2500, "succeeded")]
    assert "0 succeeded" in runner.invoke(args=["portal", "orders", "reconcile"]).output
    assert len(channel_refunds(sandbox, channel, out_trade_no(app, order_id))) == 1
    assert balance(app, payer.account_id) == 7500
    assert ledger_ok(runner)


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_a_refund_the_channel_never_received_is_sent_again_with_its_own_number(
        app, sandbox, payer, runner, clock, channel):
    order_id = paid_order(app, sandbox, payer, channel)
    requests.post(f"{sandbox.url}{CONTROL[channel]}/outage", json={"calls": 1}, timeout=10)

    assert "waiting for the channel" in refund(runner, order_id, "25").output
    [(number, _, _)] = refunds_of(app, order_id)
    assert channel_refunds(sandbox, channel, out_trade_no(app, order_id)) == []

    # Too soon: the request might still be on its way, so it is not sent again yet.
    assert "0 succeeded" in runner.invoke(args=["portal", "orders", "refunds-reconcile"]).output
    clock.advance(timedelta(minutes=2))
    runner.invoke(args=["portal", "orders", "refunds-reconcile"])

    wait_until(lambda: refunds_of(app, order_id) == [(number, 2500, "succeeded")])
    [made] = channel_refunds(sandbox, channel, out_trade_no(app, order_id))
    assert made["out_refund_no"] == number
    assert balance(app, payer.account_id) == 7500 and ledger_ok(runner)


def notification_outcomes(app, order_id):
    import sqlalchemy as sa

    from portal.billing.models import PaymentNotification
    from portal.extensions import db

    with app.app_context():
        return sorted(db.session.scalars(sa.select(PaymentNotification.outcome).where(
            PaymentNotification.order_id == order_id, PaymentNotification.outcome.like("refund_%"))))


def refund_notifications(sandbox, number):
    response = requests.get(f"{sandbox.url}/_sandbox/wxpay/notifications", params={"out_trade_no": number},
                            timeout=10)
    return [entry for entry in response.json() if not entry["dropped"]]


def test_twenty_identical_refund_notifications_at_once_apply_once(app, sandbox, payer, runner):
    order_id = paid_order(app, sandbox, payer, "wechatpay")
    refund_fault(sandbox, "wechatpay", processing=True, notification={"duplicate": 20})
    assert refund(runner, order_id, "12.34").exit_code == 0
    [(number, _, state)] = refunds_of(app, order_id)
    assert state == "sending"

    requests.post(f"{sandbox.url}/_sandbox/wxpay/refunds/{number}/finish", json={"status": "SUCCESS"}, timeout=10)

    sent = wait_until(lambda: len(found := refund_notifications(sandbox, number)) >= 20 and found, timeout=60)
    assert all(entry["accepted"] for entry in sent)
    assert notification_outcomes(app, order_id) == ["refund_duplicate"] * 19 + ["refund_succeeded"]
    assert refunds_of(app, order_id) == [(number, 1234, "succeeded")]
    assert balance(app, payer.account_id) == 10000 - 1234
    assert len(refund_entries(app, payer.account_id)) == 1 and ledger_ok(runner)


def test_a_refund_the_channel_closes_is_released_once(app, sandbox, payer, runner):
    order_id = paid_order(app, sandbox, payer, "wechatpay")
    refund_fault(sandbox, "wechatpay", processing=True, notification={"duplicate": 3})
    refund(runner, order_id, "10")
    [(number, _, _)] = refunds_of(app, order_id)

    requests.post(f"{sandbox.url}/_sandbox/wxpay/refunds/{number}/finish", json={"status": "CLOSED"}, timeout=10)

    wait_until(lambda: len(refund_notifications(sandbox, number)) >= 3)
    assert notification_outcomes(app, order_id) == ["refund_duplicate"] * 2 + ["refund_failed"]
    assert refunds_of(app, order_id) == [(number, 1000, "failed")]
    assert balance(app, payer.account_id) == 10000
    assert sorted(refund_entries(app, payer.account_id)) == [
        (-1000, f"refund:{number}"), (1000, f"refund-released:{number}")]
    assert ledger_ok(runner)


@pytest.mark.parametrize("fault", ["bad_signature", "stale", "foreign_merchant", "signtest"])
def test_an_untrusted_refund_notification_is_refused(app, sandbox, payer, runner, fault):
    order_id = paid_order(app, sandbox, payer, "wechatpay")
    refund_fault(sandbox, "wechatpay", processing=True, notification={fault: True})
    refund(runner, order_id, "10")
    [(number, _, _)] = refunds_of(app, order_id)

    requests.post(f"{sandbox.url}/_sandbox/wxpay/refunds/{number}/finish", json={"status": "CLOSED"}, timeout=10)

    assert not wait_until(lambda: refund_notifications(sandbox, number))[0]["accepted"]
    assert refunds_of(app, order_id) == [(number, 1000, "sending")]
    assert balance(app, payer.account_id) == 9000
    # The query has the last word.
    assert "1 failed" in runner.invoke(args=["portal", "orders", "refunds-reconcile"]).output
    assert balance(app, payer.account_id) == 10000 and ledger_ok(runner)


def test_a_refund_notification_changed_in_amount_is_recorded_and_never_applied(app, sandbox, payer, runner):
    order_id = paid_order(app, sandbox, payer, "wechatpay")
    refund_fault(sandbox, "wechatpay", processing=True, notification={"tamper_amount": 1})
    refund(runner, order_id, "10")
    [(number, _, _)] = refunds_of(app, order_id)

    requests.post(f"{sandbox.url}/_sandbox/wxpay/refunds/{number}/finish", json={"status": "CLOSED"}, timeout=10)

    wait_until(lambda: notification_outcomes(app, order_id))
    assert notification_outcomes(app, order_id) == ["refund_amount_mismatch"]
    assert refunds_of(app, order_id) == [(number, 1000, "sending")]
    assert balance(app, payer.account_id) == 9000


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_concurrent_refunds_of_one_order_never_exceed_what_was_paid(app, sandbox, payer, runner, channel):
    import threading

    from portal.billing import refunds
    from portal.extensions import db

    order_id = paid_order(app, sandbox, payer, channel)
    start, results = threading.Barrier(8), []

    def refund_30():
        with app.app_context():
            db.session.commit()
            start.wait(timeout=30)
            try:
                made = refunds.refund_order(order_id, 3000, "并发退款", "test", refunds.notify_url_for(channel))
                results.append(made.state)
            except refunds.RefundError:
                results.append("refused")
            db.session.remove()

    threads = [threading.Thread(target=refund_30) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count("refused") == 5, results
    wait_until(lambda: settled(app, order_id))
    assert [state for _, _, state in refunds_of(app, order_id)] == ["succeeded"] * 3
    assert balance(app, payer.account_id) == 1000
    made = channel_refunds(sandbox, channel, out_trade_no(app, order_id))
    assert sum(r["amount"]["refund"] for r in made) == 9000
    assert ledger_ok(runner)


def test_ledger_verify_checks_every_refund_against_its_entries(app, sandbox, payer, runner):
    from portal.billing import ledger
    from portal.extensions import db

    order_id = paid_order(app, sandbox, payer, "wechatpay")
    refund_fault(sandbox, "wechatpay", processing=True)
    refund(runner, order_id, "10")
    [(number, _, _)] = refunds_of(app, order_id)

    checked = runner.invoke(args=["portal", "ledger", "verify"])
    assert checked.exit_code == 0 and "1 refund(s) are on their way" in checked.output
    assert "every refund its debit and release" in checked.output

    with app.app_context():  # a second debit for the same refund, balanced so the sums still agree
        ledger.debit(payer.account_id, 1000, "refund", reference=f"refund:{number}")
        ledger.credit(payer.account_id, 1000, "refund", reference="refund:nobody")
        db.session.commit()
    broken = runner.invoke(args=["portal", "ledger", "verify"])

    assert broken.exit_code == 1
    assert f"refund {number}: its debit is recorded twice" in broken.output
    assert "ledger entry of kind refund without a refund: 'refund:nobody'" in broken.output


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_a_refund_debited_but_never_sent_is_sent_by_reconciliation(app, sandbox, payer, runner, clock, channel):
    from portal.billing import refunds

    order_id = paid_order(app, sandbox, payer, channel)
    with app.app_context():  # the operator's process stopped right after the debit
        number = refunds.request_refund(order_id, 1500, "进程中断", "test").out_refund_no
    assert balance(app, payer.account_id) == 8500

    clock.advance(timedelta(minutes=2))
    runner.invoke(args=["portal", "orders", "reconcile"])

    wait_until(lambda: refunds_of(app, order_id) == [(number, 1500, "succeeded")])
    assert [r["out_refund_no"] for r in channel_refunds(sandbox, channel, out_trade_no(app, order_id))] == [number]
    assert ledger_ok(runner)


@pytest.mark.parametrize("channel", REFUND_CHANNELS)
def test_a_held_payment_is_refunded_without_touching_the_ledger(app, sandbox, payer, runner, channel):
    from portal.accounts.models import Account
    from portal.extensions import db
    from portal.timeutil import utcnow

    order_id = recharge(payer, "60", channel)
    with app.app_context():  # the account closes (its organization deleted) before the buyer pays
        db.session.get(Account, payer.account_id).closed_at = utcnow()
        db.session.commit()
    sandbox_pay(sandbox, channel, out_trade_no(app, order_id))
    wait_until(lambda: payer.get(f"/billing/orders/{order_id}/status").json["state"] == "held")

    assert refund(runner, order_id, "60", "组织已删除，原路退回").exit_code == 0

    wait_until(lambda: settled(app, order_id))
    assert [state for _, _, state in refunds_of(app, order_id)] == ["succeeded"]
    assert refund_entries(app, payer.account_id) == [] and balance(app, payer.account_id) == 0
    assert len(channel_refunds(sandbox, channel, out_trade_no(app, order_id))) == 1
    assert "0 order(s) held" in runner.invoke(args=["portal", "orders", "held"]).output
    verified = runner.invoke(args=["portal", "ledger", "verify"])
    assert verified.exit_code == 0 and "held for an operator" not in verified.output


def test_the_account_is_told_once_when_its_money_went_back(app, sandbox, payer, runner, mailbox):
    from portal.accounts.models import Account
    from portal.extensions import db

    with app.app_context():
        address = db.session.get(Account, payer.account_id).user.primary_email.address
    order_id = paid_order(app, sandbox, payer, "wechatpay")
    refund_fault(sandbox, "wechatpay", notification={"duplicate": 3})
    earlier = len(mailbox.to(address))  # the sandbox's mailbox lives as long as the test session

    refund(runner, order_id, "30.50", "重复充值")

    [(number, _, _)] = refunds_of(app, order_id)
    wait_until(lambda: settled(app, order_id) and len(refund_notifications(sandbox, number)) >= 3)
    told = [m for m in mailbox.to(address)[earlier:] if "原路退回" in m["body"]]
    assert len(told) == 1
    assert f"充值订单 {order_id} 的 ¥30.50 已原路退回付款账户。退款原因：重复充值" in told[0]["body"]
