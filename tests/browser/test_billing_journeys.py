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
    # Both channels link their sandbox phone page under the QR code (WeChat Pay's through its
    # payer_help_url setting), so nobody has to find the order on the sandbox by hand.
    link = me.page.locator("#billing-pay-link", has_text="打开支付页面").get_attribute("href")
    assert link.startswith(sandbox.url)
    number = me.page.locator("dd.font-monospace").inner_text().strip()
    phone = me.on_the_phone(link, "scan", "pay")
    assert number in phone.content()
    phone.get_by_text(re.compile("支付成功|付款成功")).wait_for()
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
    # The switcher lists the new organization once its page has loaded.
    me.page.wait_for_url("**/orgs/payco/**")
    me.page.locator("#current-account").click()
    me.submit("button[name=account_id]:has-text('Pay Co')")
    me.page.locator("#current-account", has_text="Pay Co").wait_for()
    _recharge(me, "0.01", channel)
    assert "Pay Co 组织账户" in me.page.locator("main").inner_text()
    _pay_on_the_phone(me, sandbox, channel)
    me.page.locator("#billing-paid").wait_for(state="visible", timeout=30_000)

    me.page.goto("/billing/history")
    history = me.page.locator("main table").inner_text()
    assert "¥0.01" in history and "已支付" in history and "¥12.34" not in history
    me.snapshot(f"history-{channel}")


@pytest.fixture
def portal_config(portal_config):
    plans = {"standard": {"name": {"zh_CN": "标准版", "en": "Standard"}, "price_fen": 1000,
                          "quotas": {"projects": 20, "containers": 50, "services": 20}}}
    return {**portal_config, "PLANS": plans}


def test_buy_a_bigger_plan_after_a_recharge(person, users, sandbox):
    users.create("buyer", password=PASSWORD)
    me = person()
    me.sign_in("buyer", PASSWORD)
    page = me.page

    page.goto("/account/plan")
    page.click("button[name=plan][value=standard]")
    page.locator("#plan-confirm").wait_for()
    assert "余额不足 ¥10.00，请先充值。" in page.locator("main").inner_text()
    assert page.locator("#plan-confirm-submit").count() == 0

    _recharge(me, "15.00", "alipay")
    _pay_on_the_phone(me, sandbox, "alipay")
    page.locator("#billing-paid").wait_for(state="visible", timeout=30_000)
    page.goto("/account/plan")
    page.click("button[name=plan][value=standard]")
    page.locator("#plan-confirm").wait_for()
    assert page.locator("#plan-charge-now").inner_text() == "¥10.00"
    assert page.locator("#plan-balance-after").inner_text() == "¥5.00"
    assert page.locator("#plan-renews-at").count() == 1
    me.snapshot("plan-confirm")
    page.click("#plan-confirm-submit")
    page.locator("#plan-period").wait_for()
    page.goto("/account/info")
    info = page.locator("main").inner_text()
    assert "标准版" in info and "¥5.00" in info and "20" in info
    assert "下次续费" in info
    me.snapshot("account-info-standard")

    # The charge is in 交易记录, filterable, and in the CSV export.
    page.goto("/billing/history")
    page.select_option("#kind", "plan_charge")
    page.click("#statement-filter")
    page.wait_for_url("**kind=plan_charge**")
    rows = page.locator("tr.portal-statement-row")
    assert rows.count() == 1 and "−¥10.00" in rows.first.inner_text() and "消费" in rows.first.inner_text()
    assert "kind=plan_charge" in page.locator("#statement-export").get_attribute("href")
    me.snapshot("statement-plan-charge")
