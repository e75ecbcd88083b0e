"""In Chromium against the sandbox: a person verified by Alipay's face check, with a recharged balance,
binds Alipay on the sandbox's authorization page and withdraws (confirming it is them first). The
operator approves and the money is paid; or rejects with a reason; or approves and Alipay refuses the
payee. Each time the withdrawal page and 交易记录 say what happened to the held amount, and
``portal ledger verify`` finds the ledger clean."""
from __future__ import annotations

import re

import pytest
import requests

PASSWORD = "correct horse battery staple"
NAME, CERT_NO = "张小三", "110101199003071233"
BOTH_OPEN_ID = "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoBoth"  # the sandbox persona "both"


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "REALNAME_BACKEND": "alipay_certify"}


@pytest.fixture(autouse=True)
def ledger_stays_clean(app):
    yield
    _ledger_is_clean(app)


def _ledger_is_clean(app):
    result = app.test_cli_runner().invoke(args=["portal", "ledger", "verify"])
    assert result.exit_code == 0, result.output


def _operator(app, *args):
    result = app.test_cli_runner().invoke(args=["portal", "withdrawals", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _on_the_phone(me, link_selector, *choices):
    me.on_the_phone(me.page.locator(link_selector).get_attribute("href"), *choices).close()


def _verified_with_balance(person, users, username, amount):
    """Signed in, recharged ``amount`` yuan through Alipay, identity verified by Alipay's face check."""
    users.create(username, password=PASSWORD)
    me = person()
    me.sign_in(username, PASSWORD)
    page = me.page
    page.goto("/billing/recharge")
    page.fill("input[name=amount]", amount)
    page.check("input[name=channel][value=alipay]")
    page.click("main form [type=submit]")
    page.wait_for_url(re.compile(r".*/billing/orders/\d+"))
    _on_the_phone(me, "#billing-pay-link", "scan", "pay")
    page.locator("#billing-paid").wait_for(state="visible", timeout=30_000)

    page.goto("/user/realname/")
    page.fill("input[name=name]", NAME)
    page.fill("input[name=cert_no]", CERT_NO)
    page.click("#realname-start")
    page.wait_for_url("**/user/realname/progress")
    _on_the_phone(me, "#realname-link", "pass")
    page.wait_for_url(re.compile(r".*/user/realname/$"), timeout=30_000)
    assert page.locator("#realname-status").inner_text() == "已认证"
    return me


def _bind_alipay(me, sandbox, persona):
    page = me.page
    page.goto("/user/withdraw/")
    assert page.locator("h1").inner_text().endswith("提现")
    assert page.locator("a.nav-link[aria-current=page]").inner_text().strip() == "提现"
    assert "绑定支付宝" in page.locator("#payout-binding").inner_text()
    page.click("#bind-alipay")
    page.wait_for_url(f"{sandbox.url}/oauth2/publicAppAuthorize.htm**")
    assert "auth_user" in page.locator("body").inner_text()
    page.click(f"#persona-{persona}")
    page.wait_for_url(re.compile(r".*/user/withdraw/$"))


def _step_up_goes_stale(me, app):
    """Five minutes pass since the password was typed: the session's step-up is no longer fresh."""
    from portal.auth import stepup

    serializer = app.session_interface.get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = next(c for c in me.context.cookies() if c["name"] == name)
    data = serializer.loads(cookie["value"])
    data[stepup.SESSION_KEY] = data[stepup.SESSION_KEY] - stepup.FRESH_SECONDS - 1
    me.context.add_cookies([{**cookie, "value": serializer.dumps(data)}])


def _withdraw(me, app, amount):
    """Request a withdrawal of ``amount`` yuan, confirming it is me on the way; returns its id."""
    page = me.page
    _step_up_goes_stale(me, app)
    page.goto("/user/withdraw/")
    page.fill("#amount", amount)
    me.submit("#withdraw-submit")
    page.wait_for_url("**/auth/step-up?next=/user/withdraw/")
    page.fill("input[name=password]", PASSWORD)
    me.submit("button[name=action][value=password]")
    page.wait_for_url(re.compile(r".*/user/withdraw/$"))
    # What was typed before the step-up is not replayed: the person submits again.
    assert page.input_value("#amount") == ""
    page.fill("#amount", amount)
    me.submit("#withdraw-submit")
    newest = page.locator("tr[id^=withdrawal-]").first
    assert newest.get_attribute("data-state") == "pending"
    assert f"{amount}" in newest.inner_text() and "待审核" in newest.inner_text()
    return int(newest.get_attribute("id").removeprefix("withdrawal-"))


def _withdrawal_row(me, withdrawal_id):
    me.page.goto("/user/withdraw/")
    return me.page.locator(f"#withdrawal-{withdrawal_id}")


def _transfers(app, sandbox, withdrawal_id):
    from portal.extensions import db
    from portal.withdrawals.models import Withdrawal

    with app.app_context():
        out_biz_no = db.session.get(Withdrawal, withdrawal_id).out_biz_no
    return requests.get(f"{sandbox.url}/_sandbox/alipay/transfers", params={"out_biz_no": out_biz_no},
                        timeout=10).json()


def _statement(me, kind):
    page = me.page
    page.goto(f"/billing/history?kind={kind}")
    assert page.locator("label[for=since]").inner_text() == "起始日期"
    return page.locator("tr.portal-statement-row")


def test_bind_alipay_withdraw_and_get_paid(app, person, users, sandbox):
    me = _verified_with_balance(person, users, "withdrawer", "20.00")
    page = me.page
    _bind_alipay(me, sandbox, "both")
    bound = page.locator("#bound-alipay").inner_text()
    assert "沙箱用户·双全" in bound and "2088****6882" in bound and "2088102177846882" not in bound
    assert page.locator("#bind-alipay").count() == 0
    me.snapshot("withdraw-bound")

    withdrawal_id = _withdraw(me, app, "5.00")
    assert page.locator("#balance").inner_text() == "¥15.00"
    me.snapshot("withdraw-pending")
    hold = _statement(me, "withdrawal_hold")
    assert hold.count() == 1 and "−¥5.00" in hold.first.inner_text() and "提现中" in hold.first.inner_text()
    _ledger_is_clean(app)

    assert "succeeded" in _operator(app, "approve", str(withdrawal_id))
    row = _withdrawal_row(me, withdrawal_id)
    assert row.get_attribute("data-state") == "succeeded" and "已支付" in row.inner_text()
    assert page.locator("#balance").inner_text() == "¥15.00"
    me.snapshot("withdraw-paid")
    paid = _statement(me, "withdrawal_hold")
    assert paid.count() == 1 and "−¥5.00" in paid.first.inner_text() and "已完成" in paid.first.inner_text()
    assert _statement(me, "withdrawal_release").count() == 0
    me.snapshot("statement-withdrawal-paid")

    # Alipay made exactly one transfer for this withdrawal, of 5.00 to the bound account's open_id.
    made = _transfers(app, sandbox, withdrawal_id)
    assert [(t["amount"], t["payee"], t["paid"]) for t in made] == [("5.00", BOTH_OPEN_ID, True)], made


@pytest.mark.parametrize("outcome", ["rejected", "failed"])
def test_a_rejected_or_failed_withdrawal_gives_the_amount_back(app, person, users, sandbox, outcome):
    me = _verified_with_balance(person, users, f"withdrawer{outcome}", "10.00")
    page = me.page
    _bind_alipay(me, sandbox, "openid")
    withdrawal_id = _withdraw(me, app, "3.00")
    assert page.locator("#balance").inner_text() == "¥7.00"
    _ledger_is_clean(app)

    if outcome == "rejected":
        reason = "收款账户与实名信息不一致"
        assert "rejected" in _operator(app, "reject", str(withdrawal_id), "--reason", reason)
        label = "已驳回"
    else:
        # Alipay refuses the payee: the sandbox's fault switch for the next transfer.
        assert requests.post(f"{sandbox.url}/_sandbox/alipay/transfer-faults",
                             json={"fail": "PAYEE_NOT_EXIST"}, timeout=10).ok
        assert "failed" in _operator(app, "approve", str(withdrawal_id))
        reason = "PAYEE_NOT_EXIST"
        label = "打款失败"

    paid = [t["paid"] for t in _transfers(app, sandbox, withdrawal_id)]
    assert paid == ([] if outcome == "rejected" else [False])
    row = _withdrawal_row(me, withdrawal_id)
    assert row.get_attribute("data-state") == outcome and label in row.inner_text()
    shown = row.locator(".withdrawal-reason").inner_text()
    assert (reason in shown) if outcome == "rejected" else shown, shown
    assert page.locator("#balance").inner_text() == "¥10.00"
    me.snapshot(f"withdraw-{outcome}")

    hold = _statement(me, "withdrawal_hold")
    assert hold.count() == 1 and "−¥3.00" in hold.first.inner_text() and "已退回" in hold.first.inner_text()
    release = _statement(me, "withdrawal_release")
    assert release.count() == 1 and "+¥3.00" in release.first.inner_text()
    assert f"{label}：" in release.first.locator(".portal-release-reason").inner_text()
    me.snapshot(f"statement-withdrawal-{outcome}")
