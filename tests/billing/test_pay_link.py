"""The order page links to a page to pay on without scanning: Alipay's QR holds one; WeChat Pay's
(weixin://) comes from its payer_help_url setting, which the sandbox sets to its phone page."""
from __future__ import annotations

import re

import pytest
import requests

from .conftest import ZH, order_row, out_trade_no, recharge, wait_until

pytestmark = pytest.mark.usefixtures("live_portal", "fast_notifications")


def pay_link(payer, order_id) -> str | None:
    page = payer.get(f"/billing/orders/{order_id}", headers=ZH).get_data(as_text=True)
    found = re.search(r'<a href="([^"]+)"[^>]*id="billing-pay-link">打开支付页面</a>', page)
    return found.group(1) if found else None


def test_the_wechat_pay_qr_links_to_the_sandbox_scan_page_of_the_order(app, sandbox, payer):
    order_id = recharge(payer, "9.90", "wechatpay")
    link = pay_link(payer, order_id)
    assert link and link.startswith(sandbox.url + "/wxpay/_scan/")

    scan = requests.get(link, timeout=10)
    assert scan.status_code == 200 and out_trade_no(app, order_id) in scan.text
    # The page pays the order (the phone's Pay button), and the portal hears of it.
    assert requests.post(link, data={"action": "pay"}, timeout=10).status_code in (200, 302)
    wait_until(lambda: order_row(app, order_id)["state"] == "paid")
    assert pay_link(payer, order_id) is None


def test_without_the_setting_wechat_pay_has_no_link(app, payer):
    from portal.billing.channels import payment_channels

    with app.app_context():
        channel = payment_channels()["wechatpay"]
    channel.settings = {key: value for key, value in channel.settings.items() if key != "payer_help_url"}
    order_id = recharge(payer, "9.91", "wechatpay")
    assert pay_link(payer, order_id) is None


def test_the_alipay_qr_is_its_own_link(app, payer):
    order_id = recharge(payer, "9.92", "alipay")
    link = pay_link(payer, order_id)
    assert link and link.startswith("http")
