"""The QQ plugin against the sandbox's QQ Connect: the real authlib flow over HTTP (GET token
endpoint with fmt=json, oauth2.0/me for the openid/unionid, get_user_info for the profile)."""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from portal_qq import decode

from portal_devkit.sandbox.providers import qq as sandbox_qq
from portal_devkit.testing.contract import ProviderBrowser, ProviderContract


class TestQQContract(ProviderContract):
    provider = "qq"

    def test_authorize_request(self, member, sandbox):
        browser, _ = member
        authorize_url = browser.start("qq")
        query = parse_qs(urlsplit(authorize_url).query)
        assert authorize_url.startswith(f"{sandbox.url}/qq/oauth2.0/authorize?")
        assert query["client_id"] == [sandbox_qq.APPID] and query["scope"] == ["get_user_info"]
        assert query["state"] and "code_challenge" not in query

    def test_link_keeps_the_unionid_nickname_and_avatar(self, app, member):
        browser, user_id = member
        assert browser.link("qq", "hong").status_code == 302
        identity = self.linked(app, user_id)
        persona = sandbox_qq.persona("hong")
        assert identity.subject == persona.unionid
        assert identity.name == "小红🌸"
        # This persona has no 100 px avatar: the 40 px one is used.
        assert identity.avatar_url.endswith("/qq/avatar/hong/40")
        assert identity.email is None

    def test_a_reused_code_is_refused(self, app, member, users):
        browser, user_id = member
        first = browser.consent(browser.start("qq"))
        assert browser.back_to_portal(first).status_code == 302
        code = parse_qs(urlsplit(first).query)["code"][0]
        other_client, other_id = users.signed_in_client()
        other = ProviderBrowser(other_client)
        fresh = parse_qs(urlsplit(other.consent(other.start("qq"))).query)
        response = other.back_to_portal(f"/identities/qq/callback?code={code}&state={fresh['state'][0]}")
        assert response.status_code == 400
        assert "100020" in response.get_data(as_text=True)
        assert self.linked(app, other_id) is None


class TestQQWithoutUnionid:
    @pytest.fixture
    def portal_config(self, portal_config, sandbox):
        settings = {**sandbox.plugin_settings()["qq"], "unionid": False}
        return {**portal_config, "PLUGINS_ENABLED": ["qq"], "PLUGINS": {"qq": settings}}

    def test_the_subject_is_the_openid(self, app, users):
        client, user_id = users.signed_in_client()
        assert ProviderBrowser(client).link("qq", "xiaoming").status_code == 302
        from portal.identities import services

        with app.app_context():
            identity = services.identities_of(user_id)["qq"]
            assert identity.subject == sandbox_qq.persona("xiaoming").openid
            assert identity.avatar_url.endswith("/qq/avatar/xiaoming/100")


class TestQQWrongSecret:
    @pytest.fixture
    def portal_config(self, portal_config, sandbox):
        settings = {**sandbox.plugin_settings()["qq"], "client_secret": "not-the-key"}
        return {**portal_config, "PLUGINS_ENABLED": ["qq"], "PLUGINS": {"qq": settings}}

    def test_a_bad_secret_is_reported_and_links_nothing(self, app, users):
        client, user_id = users.signed_in_client()
        response = ProviderBrowser(client).link("qq")
        assert response.status_code == 400 and "100009" in response.get_data(as_text=True)
        from portal.identities import services

        with app.app_context():
            assert services.identities_of(user_id) == {}


def test_legacy_jsonp_answers_are_understood(sandbox):
    """Should QQ ignore fmt=json, the plugin still reads its JSONP wrapper."""
    graph = sandbox.plugin_settings()["qq"]["graph_url"]
    for params in ({"access_token": "bad"}, {"access_token": "bad", "fmt": "json"}):
        assert decode(requests.get(f"{graph}/oauth2.0/me", params=params))["error"] == 100016
