"""The order page: a countdown with its unit while it can be paid; 支付成功 with the new balance and
a way back once paid, without the QR code or its countdown."""
from __future__ import annotations

import pytest

from .conftest import ZH, out_trade_no, recharge, sandbox_pay, wait_until

pytestmark = pytest.mark.usefixtures("live_portal", "fast_notifications")


def test_a_paid_order_says_so_with_the_new_balance(app, sandbox, payer):
    channel = "wechatpay"
    order_id = recharge(payer, "8.00", channel)
    page = payer.get(f"/billing/orders/{order_id}", headers=ZH).get_data(as_text=True)
    countdown = page.split('id="billing-countdown"')[1][:200]
    assert "剩余" in countdown and "分" in countdown and "秒" in countdown

    sandbox_pay(sandbox, channel, out_trade_no(app, order_id))
    wait_until(lambda: payer.get(f"/billing/orders/{order_id}/status").json["state"] == "paid")
    page = payer.get(f"/billing/orders/{order_id}", headers=ZH).get_data(as_text=True)
    assert 'id="billing-qr"' not in page and 'id="billing-countdown"' not in page
    paid = page.split('id="billing-paid"')[1][:600]
    assert "支付成功" in paid and "¥8.00" in paid and 'id="billing-back"' in paid
