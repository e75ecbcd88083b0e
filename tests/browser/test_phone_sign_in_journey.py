"""In Chromium: sign up with a phone (手机号注册: the code, then a username, no password), sign out,
and sign in again with 验证码登录; the send-code button works under the CSP (users.js)."""
from __future__ import annotations

import pytest

PHONE = "+8613600136000"


@pytest.fixture
def portal_config(portal_config):
    # The phone rests a minute after each code; this journey asks twice within one.
    return {**portal_config, "VERIFICATION_SEND_LIMITS": "10/minute"}


def _fits_a_phone(page):
    wide, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide <= window, f"{page.url} is {wide} px wide in a {window} px window"


def _send_code_and_enter_it(page, mailbox):
    before = len(mailbox.to(PHONE))
    _fits_a_phone(page)
    page.fill("input[name=phone]", "136 0013 6000")
    page.click("#send-code")
    page.locator(".portal-send-feedback.text-success", has_text="136****6000").wait_for()
    assert len(mailbox.to(PHONE)) == before + 1
    page.fill("input[name=code]", mailbox.last_code(PHONE))


def test_sign_up_by_phone_then_sign_in_by_sms_code(person, mailbox):
    me = person()
    page = me.page
    # On a phone, as most sign-ups by phone are.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/auth/sign-up")
    page.click("#sign-up-tabs a:has-text('手机号注册')")
    page.wait_for_url("**/auth/sign-up/phone")
    _send_code_and_enter_it(page, mailbox)
    me.submit("#sms-submit")
    assert "136****6000" in page.locator("#verified-phone").inner_text()
    _fits_a_phone(page)
    me.snapshot("phone-sign-up")
    page.fill("input[name=username]", "shoujiyonghu")
    me.submit("main form [type=submit]")
    page.wait_for_url("**/user/profile")
    main = page.locator("main").inner_text()
    assert "shoujiyonghu" in main and "136****6000" in main

    # The menu is folded away at this width: the sign-out form is submitted as its button would.
    with page.expect_navigation():
        page.evaluate("document.querySelector(\"form[action='/auth/sign-out']\").requestSubmit()")
    page.wait_for_url("**/auth/sign-in**")
    page.click("#sign-in-tabs a:has-text('验证码登录')")
    page.wait_for_url("**/auth/sign-in/sms")
    _send_code_and_enter_it(page, mailbox)
    me.snapshot("sms-sign-in")
    me.submit("#sms-submit")
    page.wait_for_url("**/user/profile")
    assert "shoujiyonghu" in page.locator("main").inner_text()
