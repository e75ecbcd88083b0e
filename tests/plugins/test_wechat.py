"""The WeChat plugin against the sandbox's WeChat: the real authlib flow over HTTP, with WeChat's
non-standard parts (appid, #wechat_redirect, GET token endpoint, errcode bodies, text/plain UTF-8)."""
from urllib.parse import parse_qs, urlsplit

import pytest

from portal_devkit.sandbox.providers import wechat as sandbox_wechat
from portal_devkit.testing.contract import ProviderBrowser, ProviderContract


def with_code(location: str, code: str) -> str:
    """``location`` (a callback URL) carrying ``code`` instead of its own."""
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    return f"{parts.path}?code={code}&state={query['state'][0]}"


class TestWeChatContract(ProviderContract):
    provider = "wechat"

    def test_the_qr_page_gets_appid_and_the_wechat_redirect_fragment(self, member, sandbox):
        browser, _ = member
        authorize_url = browser.start("wechat")
        parts = urlsplit(authorize_url)
        query = parse_qs(parts.query)
        assert authorize_url.startswith(f"{sandbox.url}/wx-open/connect/qrconnect?")
        assert parts.fragment == "wechat_redirect"
        assert query["appid"] == [sandbox_wechat.APPID] and query["scope"] == ["snsapi_login"]
        assert query["response_type"] == ["code"] and query["state"][0].isalnum()
        assert "code_challenge" not in query

    def test_nickname_in_chinese_arrives_intact(self, app, member):
        browser, user_id = member
        assert browser.link("wechat", "zhang").status_code == 302
        identity = self.linked(app, user_id)
        # requests would read the text/plain body as ISO-8859-1 ("å¼ ä¸..."): the plugin must not.
        assert identity.name == "张三🐼"
        assert identity.subject == sandbox_wechat.persona("zhang").unionid
        assert identity.avatar_url.endswith("/wx-api/avatar/zhang/132")
        assert identity.email is None
        page = browser.client.get("/identities/").get_data(as_text=True)
        assert "张三🐼" in page

    def test_without_unionid_the_subject_is_the_openid(self, app, member):
        browser, user_id = member
        assert browser.link("wechat", "wang").status_code == 302
        assert self.linked(app, user_id).subject == sandbox_wechat.persona("wang").openid

    def test_deny_without_code_is_explained_and_links_nothing(self, app, member):
        browser, user_id = member
        location = browser.consent(browser.start("wechat"), "deny")
        assert "code=" not in location and "error=" not in location
        response = browser.back_to_portal(location)
        assert response.status_code == 400
        assert "declined" in response.get_data(as_text=True) or "拒绝" in response.get_data(as_text=True)
        assert self.linked(app, user_id) is None

    def test_a_reused_code_is_refused(self, app, member, users):
        browser, user_id = member
        first = browser.consent(browser.start("wechat"))
        assert browser.back_to_portal(first).status_code == 302
        code = parse_qs(urlsplit(first).query)["code"][0]
        other_client, other_id = users.signed_in_client()
        other = ProviderBrowser(other_client)
        # A fresh, valid state of the other user's own flow, but the first user's spent code.
        replay = with_code(other.consent(other.start("wechat")), code)
        response = other.back_to_portal(replay)
        assert response.status_code == 400
        assert "40163" in response.get_data(as_text=True)
        assert self.linked(app, other_id) is None

    def test_a_made_up_code_is_refused(self, app, member):
        browser, user_id = member
        replay = with_code(browser.consent(browser.start("wechat")), "made-up")
        response = browser.back_to_portal(replay)
        assert response.status_code == 400 and "40029" in response.get_data(as_text=True)
        assert self.linked(app, user_id) is None


    def test_a_profile_without_openid_is_refused(self, app, member):
        browser, user_id = member
        response = browser.link("wechat", "ghost")
        assert response.status_code == 400
        assert self.linked(app, user_id) is None

    def test_a_5_mb_nickname_is_cut_down(self, app, member):
        from portal.identities.models import NAME_MAX

        browser, user_id = member
        assert browser.link("wechat", "huge").status_code == 302
        name = self.linked(app, user_id).name
        assert name and set(name) == {"微"} and len(name) <= NAME_MAX


class TestWrongSecret:
    @pytest.fixture
    def portal_config(self, portal_config, sandbox):
        settings = {**sandbox.plugin_settings()["wechat"], "client_secret": "not-the-secret"}
        return {**portal_config, "PLUGINS_ENABLED": ["wechat"], "PLUGINS": {"wechat": settings}}

    def test_a_bad_secret_is_reported_and_links_nothing(self, app, users):
        client, user_id = users.signed_in_client()
        response = ProviderBrowser(client).link("wechat")
        assert response.status_code == 400
        assert "40125" in response.get_data(as_text=True)
        from portal.identities import services

        with app.app_context():
            assert services.identities_of(user_id) == {}


class TestSignInWithoutSignUp:
    @pytest.fixture
    def portal_config(self, portal_config, sandbox):
        settings = {**sandbox.plugin_settings()["wechat"], "allow_sign_up": False}
        return {**portal_config, "PLUGINS_ENABLED": ["wechat"], "PLUGINS": {"wechat": settings}}

    def test_an_unknown_wechat_account_cannot_create_an_account(self, app):
        response = ProviderBrowser(app.test_client()).sign_in("wechat", "li")
        assert response.status_code == 403
