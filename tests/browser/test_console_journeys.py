"""In Chromium, the console's visible moments: an invitee hears of an invitation at sign-in and in
the navbar until answering; closing an order asks first on a page that names it; forgot password
says when a new code can be asked for, in the same words for every address."""
from __future__ import annotations

import re

PASSWORD = "correct horse battery staple"


def test_an_invitation_is_announced_at_sign_in_and_counted_until_answered(person, users):
    users.create("owner2", password=PASSWORD)
    users.create("invitee2", password=PASSWORD)
    owner = person()
    owner.sign_in("owner2", PASSWORD)
    owner.page.goto("/orgs/new")
    owner.page.fill("input[name=slug]", "beta")
    owner.page.fill("input[name=name]", "Beta 云")
    owner.page.click("main form [type=submit]")
    owner.page.wait_for_url("**/orgs/beta/**")
    owner.page.fill("input[name=login]", "invitee2")
    owner.submit("button:has-text('邀请')")

    invitee = person()
    invitee.sign_in("invitee2", PASSWORD)
    page = invitee.page
    assert "您有 1 个组织邀请待回复" in page.locator(".alert").first.inner_text()
    assert page.locator("#invitation-count").inner_text() == "1"
    invitee.snapshot("invitation-announced")
    page.goto("/orgs/invitations")
    invitee.submit("button:has-text('接受')")
    assert page.locator("#invitation-count").count() == 0


def test_closing_an_order_asks_first_and_names_it(person, users):
    users.create("closer", password=PASSWORD)
    me = person()
    me.sign_in("closer", PASSWORD)
    page = me.page
    page.goto("/billing/recharge")
    page.fill("input[name=amount]", "8.88")
    page.check("input[name=channel][value=alipay]")
    page.click("main form [type=submit]")
    page.wait_for_url(re.compile(r".*/billing/orders/\d+$"))

    page.goto("/billing/history")
    page.click("a.portal-close-order")
    page.locator("#confirm").wait_for()
    assert "¥8.88" in page.locator("#confirm").inner_text()
    assert page.url.endswith("/close")
    me.snapshot("close-order-confirm")
    page.goto("/billing/history")
    assert "等待付款" in page.locator("main table").inner_text()  # looking at the page closed nothing

    page.click("a.portal-close-order")
    me.submit("#confirm-submit")
    assert "已关闭" in page.locator("main table").inner_text()


def test_forgot_password_says_when_a_new_code_can_be_asked_the_same_for_everyone(person, users, mailbox):
    users.create("restful", password=PASSWORD)
    answers = {}
    for address in ("restful@example.com", "nobody-here@example.com"):
        me = person()
        page = me.page
        for _ in range(2):
            page.goto("/auth/forgot-password")
            page.fill("input[name=contact]", address)
            page.click("main form [type=submit]")
            page.wait_for_url("**/auth/reset-password**")
        told = page.locator(".alert").first.inner_text()
        assert re.search(r"未向 \S+ 发送新的验证码：获取验证码过于频繁。请在 \d+ 秒后重新获取。", told), told
        answers[address] = told.replace(address, "ADDRESS")
        me.snapshot(f"forgot-password-resting-{address.split('@')[0]}")
    assert len(mailbox.to("restful@example.com")) == 1 and mailbox.to("nobody-here@example.com") == []
    assert re.sub(r"\d+", "N", answers["restful@example.com"]) == re.sub(r"\d+", "N", answers["nobody-here@example.com"])
