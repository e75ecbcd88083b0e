"""In Chromium: turn on two-factor sign-in with an authenticator app (QR code, secret, recovery codes),
sign in with a code, sign in with a recovery code, read the security log, and sign out another
device, which is then refused."""
import time

import pyotp

PASSWORD = "correct horse battery staple"


def code_after(authenticator, used_step):
    """The code of a step after ``used_step`` (each code is good once), waiting for it if needed."""
    step = int(time.time()) // 30
    if step <= used_step:
        # The next step's code is accepted a step early (one step of tolerance either side).
        step = used_step + 1
    return authenticator.generate_otp(step), step


def signed_out(someone) -> bool:
    someone.page.goto("/user/profile")
    return "/auth/sign-in" in someone.page.url


def second_step(page, code):
    page.wait_for_url("**/auth/two-factor")
    page.fill("input[name=code]", code)
    page.click("#mfa-verify")
    page.wait_for_url("**/user/**")


def test_two_factor_sign_in_security_log_and_devices(person, users):
    users.create("secure", password=PASSWORD)
    me = person()
    me.sign_in("secure", PASSWORD)
    page = me.page

    page.goto("/user/two-factor")
    assert "未开启" in page.locator("#mfa-status").inner_text()
    page.click("#mfa-start")
    page.wait_for_url("**/user/two-factor/totp")
    assert page.locator(".portal-qr svg").is_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    authenticator = pyotp.TOTP(secret)
    me.snapshot("mfa-enrol")
    code, used = code_after(authenticator, 0)
    page.fill("input[name=code]", code)
    page.click("#totp-confirm")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    assert page.locator("#recovery-download").get_attribute("download") == "recovery-codes.txt"
    me.snapshot("mfa-recovery-codes")
    page.click("#recovery-done")
    assert "已开启" in page.locator("#mfa-status").inner_text()

    # Another device, signed in with the password and a code from the app.
    laptop = person()
    laptop.page.goto("/auth/sign-in")
    laptop.page.fill("input[name=login]", "secure")
    laptop.page.fill("input[name=password]", PASSWORD)
    laptop.page.click("main form [type=submit]")
    code, used = code_after(authenticator, used)
    second_step(laptop.page, code)
    assert laptop.page.url.endswith("/user/profile")

    # A third, with a recovery code.
    phone = person()
    phone.page.goto("/auth/sign-in")
    phone.page.fill("input[name=login]", "secure")
    phone.page.fill("input[name=password]", PASSWORD)
    phone.page.click("main form [type=submit]")
    second_step(phone.page, codes[0])

    page.goto("/user/security-log")
    log = page.locator("#security-log").inner_text()
    assert "开启两步验证" in log and "使用恢复码" in log and log.count("登录") >= 3
    me.snapshot("security-log")

    page.goto("/user/devices")
    rows = page.locator("#devices li")
    assert rows.count() == 3
    assert page.locator("#devices li", has_text="本设备").count() == 1
    me.snapshot("devices")
    # Sign out the laptop (the second session, which is not this one).
    others = page.locator("#devices li").filter(has_not_text="本设备")
    others.first.locator("button").click()
    page.wait_for_url("**/user/devices")
    assert page.locator("#devices li").count() == 2
    assert [signed_out(p) for p in (laptop, phone)].count(True) == 1
    page.click("#devices-sign-out-others")
    page.wait_for_url("**/user/devices")
    assert page.locator("#devices li").count() == 1
    assert signed_out(laptop) and signed_out(phone) and not signed_out(me)
