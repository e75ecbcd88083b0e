"""In Chromium: link, sign in with and unlink each of the five providers through their (sandbox)
consent pages, and see the WeChat bonus in the quota table exactly once."""
import pytest

PROVIDERS = ["github", "bitbucket", "coding", "wechat", "qq"]
# A Latin provider name is spaced from the Chinese around it; a Chinese one is not.
LINKED = {
    "github": "已绑定 GitHub 账户。", "bitbucket": "已绑定 Bitbucket 账户。", "coding": "已绑定 CODING 账户。",
    "wechat": "已绑定微信账户。", "qq": "已绑定 QQ 账户。",
}


def _row(page, provider):
    return page.locator(f"tr.portal-identity[data-provider={provider}]")


def _consent(page, label="Approve as"):
    page.locator(f"button:has-text('{label}')").first.click()


def _sign_out(page):
    page.locator("#user-menu").click()
    page.locator("form[action='/auth/sign-out'] button").click()
    page.wait_for_url("**/auth/sign-in**")


def _bonus_limits(page):
    page.goto("/account/info")
    return page.locator("table").last.inner_text()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_link_sign_in_with_and_unlink(person, users, provider):
    users.create("zhangsan", password="correct horse battery staple")
    me = person()
    me.sign_in("zhangsan", "correct horse battery staple")

    me.page.goto("/identities/")
    _row(me.page, provider).locator("button:has-text('绑定')").click()
    _consent(me.page)
    me.page.wait_for_url("**/identities/**")
    assert "未绑定" not in _row(me.page, provider).inner_text()
    assert LINKED[provider] in me.page.locator("body").inner_text()
    me.snapshot(f"identities-{provider}")

    _sign_out(me.page)
    me.snapshot("sign-in")
    me.page.locator(f"form[action='/identities/{provider}/sign-in'] button").click()
    _consent(me.page)
    me.page.wait_for_url("**/user/**")
    assert "zhangsan" in me.page.locator(".navbar").inner_text()

    me.page.goto("/identities/")
    _unlink(me.page, provider)
    assert "未绑定" in _row(me.page, provider).inner_text()


def _unlink(page, provider):
    """解除绑定, then confirm on the page that names the account."""
    _row(page, provider).locator("a.portal-unlink").click()
    page.locator(f"#confirm[data-provider={provider}]").wait_for()
    page.click("#confirm-submit")
    page.wait_for_url("**/identities/")


def test_wechat_bonus_shows_once(person, users):
    users.create("lisi", password="correct horse battery staple")
    me = person()
    me.sign_in("lisi", "correct horse battery staple")
    before = _bonus_limits(me.page)

    for _ in range(2):  # link, unlink, link again: the bonus is granted the first time only
        me.page.goto("/identities/")
        _row(me.page, "wechat").locator("button:has-text('绑定')").first.click()
        _consent(me.page)
        me.page.wait_for_url("**/identities/**")
        after_link = _bonus_limits(me.page)
        me.page.goto("/identities/")
        _unlink(me.page, "wechat")
        if _ == 0:
            first = after_link
    assert first != before
    assert after_link == first
