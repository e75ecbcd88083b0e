"""Recharging end to end: the real channel plugins against the sandbox, which pays and delivers
signed notifications over HTTP to the portal running on a real server."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from .conftest import (
    CHANNELS,
    CONTROL,
    ZH,
    balance,
    delivered,
    ledger_ok,
    order_row,
    out_trade_no,
    outcomes,
    recharge,
    sandbox_pay,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("live_portal", "fast_notifications")


@pytest.mark.parametrize("channel", CHANNELS)
def test_recharge_by_qr_credits_the_balance(app, sandbox, payer, runner, channel):
    order_id = recharge(payer, "12.34", channel)

    page = payer.get(f"/billing/orders/{order_id}", headers=ZH).get_data(as_text=True)
    assert "<svg" in page and 'id="billing-qr"' in page
    assert "¥12.34" in page and "等待付款" in page
    assert payer.get(f"/billing/orders/{order_id}/status").json["state"] == "pending"

    sandbox_pay(sandbox, channel, out_trade_no(app, order_id))

    status = wait_until(
        lambda: (s := payer.get(f"/billing/orders/{order_id}/status").json)["state"] == "paid" and s
    )
    assert status["balance"] == "12.34"
    assert balance(app, payer.account_id) == 1234
    history = payer.get("/billing/history", headers=ZH).get_data(as_text=True)
    assert "已支付" in history and "12.34" in history
    assert ledger_ok(runner)


@pytest.mark.parametrize("channel", CHANNELS)
def test_fifty_identical_notifications_at_once_credit_exactly_once(app, sandbox, payer, runner, channel):
    order_id = recharge(payer, "100", channel)
    number = out_trade_no(app, order_id)

    sandbox_pay(sandbox, channel, number, duplicate=50)

    sent = wait_until(lambda: len(found := delivered(sandbox, channel, number)) >= 50 and found, timeout=60)
    assert all(entry["accepted"] for entry in sent), [e["response"] for e in sent if not e["accepted"]]
    assert outcomes(app, order_id) == ["credited"] + ["duplicate"] * 49
    assert balance(app, payer.account_id) == 10000
    assert ledger_ok(runner)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_changed_amount_is_recorded_and_acknowledged_but_never_credited(app, sandbox, payer, channel):
    order_id = recharge(payer, "10", channel)

    sandbox_pay(sandbox, channel, out_trade_no(app, order_id), tamper_amount=1000000)

    wait_until(lambda: outcomes(app, order_id))
    assert outcomes(app, order_id) == ["amount_mismatch"]
    assert delivered(sandbox, channel, out_trade_no(app, order_id))[0]["accepted"]
    assert order_row(app, order_id)["state"] == "pending"
    assert balance(app, payer.account_id) == 0


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("fault", ["bad_signature", "stale", "foreign_merchant"])
def test_an_untrusted_notification_is_refused_and_never_credits(app, sandbox, payer, channel, fault):
    order_id = recharge(payer, "10", channel)
    number = out_trade_no(app, order_id)

    sandbox_pay(sandbox, channel, number, **{fault: True})

    first = wait_until(lambda: delivered(sandbox, channel, number))[0]
    assert not first["accepted"]
    assert wait_until(lambda: outcomes(app))[0] == "invalid"
    assert order_row(app, order_id)["state"] == "pending"
    assert balance(app, payer.account_id) == 0


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_replayed_notification_changes_nothing(app, sandbox, payer, channel):
    order_id = recharge(payer, "10", channel)
    number = out_trade_no(app, order_id)
    sandbox_pay(sandbox, channel, number)
    entry = wait_until(lambda: delivered(sandbox, channel, number))[0]

    replay_url = f"{sandbox.url}{CONTROL[channel]}/notifications/{entry['id']}/replay"
    replayed = requests.post(replay_url, timeout=10)

    assert replayed.status_code == 200
    assert balance(app, payer.account_id) == 1000
    assert outcomes(app, order_id).count("credited") == 1


def test_unknown_channels_have_no_notify_endpoint(client):
    assert client.post("/billing/notify/paypal", data=b"{}").status_code == 404


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_lost_notification_is_found_by_reconciliation(app, sandbox, payer, runner, channel):
    order_id = recharge(payer, "20", channel)
    sandbox_pay(sandbox, channel, out_trade_no(app, order_id), drop=-1)

    result = runner.invoke(args=["portal", "orders", "reconcile"])

    assert result.exit_code == 0, result.output
    assert "credited 1" in result.output
    assert order_row(app, order_id)["state"] == "paid"
    assert balance(app, payer.account_id) == 2000
    assert ledger_ok(runner)


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_order_settled_by_reconciliation_was_paid_when_the_channel_says(
        app, sandbox, payer, runner, clock, channel):
    from portal.billing.models import Order
    from portal.extensions import db
    from portal.timeutil import utcnow

    order_id = recharge(payer, "20", channel)
    paying = utcnow()
    sandbox_pay(sandbox, channel, out_trade_no(app, order_id), drop=-1)
    clock.advance(timedelta(hours=3))  # the job runs three hours later

    assert "credited 1" in runner.invoke(args=["portal", "orders", "reconcile"]).output

    with app.app_context():
        paid_at = db.session.get(Order, order_id).paid_at
    # The channels give the payment time to the second.
    assert paying - timedelta(seconds=1) <= paid_at <= paying + timedelta(minutes=1)


@pytest.mark.parametrize("channel", CHANNELS)
def test_unpaid_orders_expire_after_one_day_and_close_at_the_channel(
        app, sandbox, payer, runner, clock, channel):
    order_id = recharge(payer, "30", channel)
    number = out_trade_no(app, order_id)

    clock.advance(timedelta(hours=23))
    assert "expired 0" in runner.invoke(args=["portal", "orders", "expire"]).output
    clock.advance(timedelta(hours=1, seconds=1))
    result = runner.invoke(args=["portal", "orders", "expire"])

    assert "expired 1" in result.output, result.output
    assert order_row(app, order_id)["state"] == "expired"
    paid = requests.post(sandbox.url + CONTROL[channel] + "/pay", json={"out_trade_no": number}, timeout=10)
    assert paid.status_code == 400  # closed at the channel: the buyer can no longer pay
    page = payer.get("/billing/history", headers=ZH).get_data(as_text=True)
    assert "已过期" in page

    token = payer.csrf_token("/billing/history")
    response = payer.post(f"/billing/orders/{order_id}/pay", data={"csrf_token": token},
                          headers={"Accept-Language": "en"}, follow_redirects=True)
    assert "can no longer be paid" in response.get_data(as_text=True)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_payment_racing_expiry_is_credited_not_expired(app, sandbox, payer, runner, clock, channel):
    order_id = recharge(payer, "30", channel)
    sandbox_pay(sandbox, channel, out_trade_no(app, order_id), drop=-1)
    clock.advance(timedelta(days=1, minutes=1))

    result = runner.invoke(args=["portal", "orders", "expire"])

    assert "credited 1, expired 0" in result.output, result.output
    assert order_row(app, order_id)["state"] == "paid"
    assert balance(app, payer.account_id) == 3000


def test_a_late_notification_after_expiry_is_credited(app, sandbox, payer, runner):
    from portal.billing import orders

    order_id = recharge(payer, "40", "wechatpay")
    with app.app_context():
        orders.expire(orders.get_order(order_id))  # expired here, not yet at the channel

    sandbox_pay(sandbox, "wechatpay", out_trade_no(app, order_id))

    wait_until(lambda: order_row(app, order_id)["state"] == "paid")
    assert balance(app, payer.account_id) == 4000
    assert ledger_ok(runner)


@pytest.mark.parametrize("channel", CHANNELS)
def test_pay_a_pending_order_from_history_with_a_new_qr_when_the_old_one_expired(
        app, sandbox, payer, runner, clock, channel):
    order_id = recharge(payer, "50", channel)
    first_number = out_trade_no(app, order_id)
    history = payer.get("/billing/history").get_data(as_text=True)
    assert f"/billing/orders/{order_id}/pay" in history

    clock.advance(timedelta(hours=3))
    page = payer.get(f"/billing/orders/{order_id}").get_data(as_text=True)
    assert 'id="billing-renew"' in page and 'id="billing-qr"' not in page
    response = payer.submit(f"/billing/orders/{order_id}/pay", {}, page="/billing/history")
    assert response.status_code == 302

    numbers = order_row(app, order_id)["out_trade_nos"]
    assert len(numbers) == 2 and numbers[0] == first_number and numbers[1] != first_number
    assert 'id="billing-qr"' in payer.get(f"/billing/orders/{order_id}").get_data(as_text=True)
    old = requests.post(sandbox.url + CONTROL[channel] + "/pay", json={"out_trade_no": first_number},
                        timeout=10)
    assert old.status_code != 200  # the old QR was closed at the channel

    sandbox_pay(sandbox, channel, numbers[1])
    wait_until(lambda: order_row(app, order_id)["state"] == "paid")
    assert balance(app, payer.account_id) == 5000
    assert ledger_ok(runner)


def test_an_admin_recharges_the_organization_not_themselves(app, sandbox, org_member):
    client, org_account_id = org_member("admin")
    page = client.get("/billing/recharge").get_data(as_text=True)
    assert "Org " in page

    order_id = recharge(client, "88.80", "alipay")
    assert order_row(app, order_id)["account_id"] == org_account_id
    sandbox_pay(sandbox, "alipay", out_trade_no(app, order_id))

    wait_until(lambda: order_row(app, order_id)["state"] == "paid")
    assert balance(app, org_account_id) == 8880


@pytest.mark.parametrize("channel", CHANNELS)
def test_closing_a_pending_order_closes_it_at_the_channel_first(app, sandbox, payer, channel):
    order_id = recharge(payer, "60", channel)
    number = out_trade_no(app, order_id)

    response = payer.submit(f"/billing/orders/{order_id}/close", {}, page="/billing/history",
                            headers={"Accept-Language": "en"}, follow_redirects=True)

    assert "The order was closed." in response.get_data(as_text=True)
    assert order_row(app, order_id)["state"] == "closed"
    assert "已关闭" in payer.get("/billing/history", headers=ZH).get_data(as_text=True)
    paid = requests.post(sandbox.url + CONTROL[channel] + "/pay", json={"out_trade_no": number}, timeout=10)
    assert paid.status_code != 200


def test_closing_an_order_that_was_just_paid_credits_it_instead(app, sandbox, payer):
    order_id = recharge(payer, "70", "wechatpay")
    sandbox_pay(sandbox, "wechatpay", out_trade_no(app, order_id), drop=-1)

    response = payer.submit(f"/billing/orders/{order_id}/close", {}, page="/billing/history",
                            headers={"Accept-Language": "en"}, follow_redirects=True)

    assert "already paid" in response.get_data(as_text=True)
    assert order_row(app, order_id)["state"] == "paid"
    assert balance(app, payer.account_id) == 7000


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_valid_notification_for_an_order_we_never_made_is_refused(app, sandbox, live_portal, channel):
    import secrets

    from portal.billing.channels import ChargeRequest, payment_channels
    from portal.timeutil import utcnow

    number = "X" + secrets.token_hex(10)
    with app.app_context():
        payment_channels()[channel].create_charge(ChargeRequest(
            number, 500, "not ours", f"{live_portal}/billing/notify/{channel}", utcnow() + timedelta(hours=1)
        ))

    sandbox_pay(sandbox, channel, number)

    assert not wait_until(lambda: delivered(sandbox, channel, number))[0]["accepted"]
    assert set(wait_until(lambda: outcomes(app))) == {"unknown_order"}  # retried: never credited


def test_reconciliation_and_expiry_running_on_several_machines_at_once_credit_once(
        app, sandbox, payer, clock):
    import threading

    from portal.billing import reconcile

    placed = [(channel, recharge(payer, "10", channel)) for channel in CHANNELS for _ in range(3)]
    order_ids = [order_id for _, order_id in placed]
    for channel, order_id in placed[::2]:
        sandbox_pay(sandbox, channel, out_trade_no(app, order_id), drop=-1)
    clock.advance(timedelta(days=1, minutes=1))
    start = threading.Barrier(4)

    def run(job):
        with app.app_context():
            start.wait(timeout=30)
            job()

    jobs = [reconcile.reconcile_pending, reconcile.expire_due] * 2
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    states = [order_row(app, order_id)["state"] for order_id in order_ids]
    assert states == ["paid", "expired"] * 3
    assert balance(app, payer.account_id) == 3 * 1000


def test_a_flood_of_forged_notifications_is_refused_and_recorded_only_up_to_a_rate(app, client):
    from portal.billing.notifications import INVALID_RECORD_LIMIT

    recorded = int(INVALID_RECORD_LIMIT.split("/")[0])
    for _ in range(recorded + 15):
        forged = client.post("/billing/notify/alipay", data={"out_trade_no": "x", "sign": "forged"})
        assert forged.get_data(as_text=True) == "fail"
    assert outcomes(app) == ["invalid"] * recorded
