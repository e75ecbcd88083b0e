"""In Chromium: recharge the personal account and an organization's by each channel, paying on the
(sandbox) phone page behind the QR code; the order page notices the payment by itself and the balance
and the history show it."""
import re

import pytest

PASSWORD = "correct horse battery staple"


def _recharge(me, amount, channel):
    page = me.page
    page.goto("/billing/recharge")
    page.fill("input[name=amount]", amount)
    page.check(f"input[name=channel][value={channel}]")
    page.click("main form [type=submit]")
    page.wait_for_url(re.compile(r".*/billing/orders/\d+"))
    assert page.locator("#billing-qr svg").is_visible()


def _pay_on_the_phone(me, sandbox, channel):
    phone = me.context.new_page()
    if channel == "alipay":
        phone.goto(me.page.locator("#billing-pay-link").get_attribute("href"))
    else:
        number = me.page.locator("dd.font-monospace").inner_text().strip()
        phone.goto(f"{sandbox.url}/wxpay/_scan/")
        phone.locator("tr", has_text=number).locator("a").click()
    phone.click("button[value=scan]")
    phone.click("button[value=pay]")
    phone.close()


@pytest.mark.parametrize("channel", ["wechatpay", "alipay"])
def test_recharge_personal_and_organization(person, users, sandbox, channel):
    users.create("payer", password=PASSWORD)
    me = person()
    me.sign_in("payer", PASSWORD)

    _recharge(me, "12.34", channel)
    me.snapshot(f"recharge-qr-{channel}")
    _pay_on_the_phone(me, sandbox, channel)
    me.page.locator("#billing-paid").wait_for(state="visible", timeout=30_000)
    me.page.goto("/account/info")
    assert "¥12.34" in me.page.locator("main").inner_text()

    me.page.goto("/orgs/new")
    me.page.fill("input[name=slug]", "payco")
    me.page.fill("input[name=name]", "Pay Co")
    me.page.click("main form [type=submit]")
    me.page.locator("#current-account").click()
    me.page.locator("button[name=account_id]:has-text('payco')").click()
    me.page.wait_for_load_state()
    _recharge(me, "0.01", channel)
    assert "Pay Co 组织账户" in me.page.locator("main").inner_text()
    _pay_on_the_phone(me, sandbox, channel)
    me.page.locator("#billing-paid").wait_for(state="visible", timeout=30_000)

    me.page.goto("/billing/history")
    history = me.page.locator("main table").inner_text()
    assert "¥0.01" in history and "已支付" in history and "¥12.34" not in history
    me.snapshot(f"history-{channel}")
