"""In Chromium: 实名认证 against the sandbox's Alipay identity verification (pass, fail, abandon then
expire) and by an operator's review (approve, reject); a paid plan refused before verification and
bought after it, the balance recharged without it. The progress page notices each result by itself."""
from __future__ import annotations

import re

import pytest
import requests

PASSWORD = "correct horse battery staple"
NAME, CERT_NO = "张小三", "110101199003071233"
PLANS = {"standard": {"name": {"zh_CN": "标准版", "en": "Standard"}, "price_fen": 1000,
                      "quotas": {"projects": 20}}}


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "REALNAME_BACKEND": "alipay_certify", "PLANS": PLANS}


def _signed_in(person, users, username):
    users.create(username, password=PASSWORD)
    me = person()
    me.sign_in(username, PASSWORD)
    return me


def _start(me):
    page = me.page
    page.goto("/user/realname/")
    assert page.locator("#realname-status").inner_text() == "未认证"
    page.fill("input[name=name]", NAME)
    page.fill("input[name=cert_no]", CERT_NO.lower().replace("1233", " 1233"))
    page.click("#realname-start")
    page.wait_for_url("**/user/realname/progress")
    text = page.locator("main").inner_text()
    assert "张*三" in text and "1101**********1233" in text and NAME not in text


def _on_the_phone(me, choice):
    """Open the QR code's link on the "phone" (a second tab of the same browser) and choose."""
    assert me.page.locator("#realname-qr svg").is_visible()
    return me.on_the_phone(me.page.locator("#realname-link").get_attribute("href"), choice)


def _result(me):
    me.page.wait_for_url(re.compile(r".*/user/realname/$"), timeout=30_000)
    return me.page.locator("#realname-status").inner_text()


def test_verify_with_alipay_then_buy_a_paid_plan(person, users, sandbox):
    me = _signed_in(person, users, "verifier")
    page = me.page
    # Recharging needs no verified identity.
    page.goto("/billing/recharge")
    page.fill("input[name=amount]", "10.00")
    page.check("input[name=channel][value=alipay]")
    page.click("main form [type=submit]")
    page.wait_for_url(re.compile(r".*/billing/orders/\d+"))
    me.on_the_phone(page.locator("#billing-pay-link").get_attribute("href"), "scan", "pay").close()
    page.locator("#billing-paid").wait_for(state="visible", timeout=30_000)

    # A paid plan is refused until the identity is verified, with a way to the tab.
    page.goto("/account/plan")
    page.click("button[name=plan][value=standard]")
    page.wait_for_load_state()
    refusal = page.locator("#identity-required")
    assert "实名认证" in refusal.inner_text()
    refusal.locator("a").click()
    page.wait_for_url("**/user/realname/")

    _start(me)
    me.snapshot("realname-qr")
    _on_the_phone(me, "pass").close()
    assert _result(me) == "已认证"
    text = page.locator("#realname-verified").inner_text()
    assert "张*三" in text and "1101**********1233" in text and "支付宝" in text
    assert page.locator("#realname-form").count() == 0
    me.snapshot("realname-verified")

    page.goto("/account/plan")
    page.click("button[name=plan][value=standard]")
    page.locator("#plan-confirm").wait_for()
    assert page.locator("#identity-required").count() == 0
    page.click("#plan-confirm-submit")
    page.locator("#plan-period").wait_for()
    assert "标准版" in page.locator(".badge.text-bg-primary").locator("xpath=..").inner_text()


def test_a_failed_check_shows_alipays_reason_and_allows_another_try(person, users, sandbox):
    me = _signed_in(person, users, "failer")
    _start(me)
    _on_the_phone(me, "fail").close()
    assert _result(me) == "未通过"
    assert "人脸比对不一致" in me.page.locator("#realname-reason").inner_text()
    assert me.page.locator("#realname-form").is_visible()


def test_an_abandoned_check_stays_pending_then_expires(app, person, users, sandbox):
    from portal.extensions import db
    from portal.realname.models import Verification

    me = _signed_in(person, users, "abandoner")
    _start(me)
    phone = _on_the_phone(me, "abandon")
    assert phone.locator("#certify-abandoned").is_visible()
    phone.close()
    me.page.goto("/user/realname/")
    assert me.page.locator("#realname-status").inner_text() == "认证中"
    me.page.click("#realname-continue")
    me.page.wait_for_url("**/user/realname/progress")

    # The certify_id's lifetime ends: Alipay forgets it, and the attempt reaches its deadline.
    with app.app_context():
        attempt = db.session.scalar(db.select(Verification).filter_by(status="pending"))
        assert requests.post(f"{sandbox.url}/_sandbox/alipay/certify/{attempt.certify_id}/expire",
                             timeout=10).ok
        attempt.expires_at = attempt.created_at
        db.session.commit()
    assert _result(me) == "已过期"
    assert me.page.locator("#realname-form").is_visible()


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_review_by_staff(app, person, users, sandbox, decision):
    from portal.extensions import db
    from portal.realname.models import Verification

    app.config["REALNAME_BACKEND"] = "realname_manual"
    me = _signed_in(person, users, f"reviewed{decision}")
    _start(me)
    assert me.page.locator("#realname-review").is_visible()
    with app.app_context():
        attempt_id = db.session.scalar(db.select(Verification.id).filter_by(status="pending"))
    args = ["portal", "realname", decision, str(attempt_id)]
    if decision == "reject":
        args += ["--reason", "证件照片不清晰"]
    assert app.test_cli_runner().invoke(args=args).exit_code == 0
    if decision == "approve":
        assert _result(me) == "已认证"
        assert "人工审核" in me.page.locator("#realname-verified").inner_text()
    else:
        assert _result(me) == "未通过"
        assert "证件照片不清晰" in me.page.locator("#realname-reason").inner_text()
