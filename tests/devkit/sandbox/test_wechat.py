"""The WeChat sandbox speaks the real protocol: errcode bodies with HTTP 200, text/plain raw UTF-8."""
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

CALLBACK = "http://portal.test/identities/wechat/callback"


@pytest.fixture
def wechat(sandbox):
    return sandbox.plugin_settings()["wechat"]


def scan(wechat, persona="zhang", decision="approve", state="abc123"):
    """Open the QR page, then press a persona's button as the phone would; return the callback query."""
    page = requests.get(f"{wechat['open_url']}/connect/qrconnect", params={
        "appid": wechat["client_id"], "redirect_uri": CALLBACK, "response_type": "code",
        "scope": "snsapi_login", "state": state,
    })
    assert page.status_code == 200 and "<svg" in page.text
    answer = requests.post(f"{wechat['open_url']}/connect/confirm", data={
        "appid": wechat["client_id"], "redirect_uri": CALLBACK, "state": state,
        "decision": decision, "persona": persona,
    }, allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return parse_qs(urlsplit(location).query)


def exchange(wechat, code, **overrides):
    params = {"appid": wechat["client_id"], "secret": wechat["client_secret"], "code": code,
              "grant_type": "authorization_code", **overrides}
    response = requests.get(f"{wechat['api_url']}/sns/oauth2/access_token", params=params)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain"
    return json.loads(response.content)


def test_approving_gives_a_code_that_buys_a_token_with_unionid(wechat):
    query = scan(wechat)
    assert query["state"] == ["abc123"]
    token = exchange(wechat, query["code"][0])
    assert token["expires_in"] == 7200 and token["scope"] == "snsapi_login"
    assert token["openid"] and token["unionid"] and token["refresh_token"]


def test_denying_returns_the_state_alone(wechat):
    assert scan(wechat, decision="deny") == {"state": ["abc123"]}


def test_a_code_is_single_use(wechat):
    code = scan(wechat)["code"][0]
    exchange(wechat, code)
    assert exchange(wechat, code)["errcode"] == 40163


@pytest.mark.parametrize("overrides, errcode", [
    ({"code": "made-up"}, 40029),
    ({"code": ""}, 41008),
    ({"appid": "wx0000000000000000"}, 40013),
    ({"secret": "wrong"}, 40125),
])
def test_token_errors_are_errcode_bodies(wechat, overrides, errcode):
    error = exchange(wechat, **{"code": scan(wechat)["code"][0], **overrides})
    assert error["errcode"] == errcode and "access_token" not in error
    assert re.search(r", rid: \w+$", error["errmsg"])


def test_userinfo_is_raw_utf8_that_a_content_type_trusting_client_garbles(wechat):
    token = exchange(wechat, scan(wechat)["code"][0])
    response = requests.get(f"{wechat['api_url']}/sns/userinfo",
                            params={"access_token": token["access_token"], "openid": token["openid"]})
    assert response.headers["Content-Type"] == "text/plain"
    assert "张三".encode() in response.content
    user = json.loads(response.content)
    assert user["nickname"] == "张三🐼" and user["unionid"] == token["unionid"] and user["privilege"] == []
    assert response.json()["nickname"] != "张三🐼"  # requests decodes text/plain as ISO-8859-1
    assert requests.get(user["headimgurl"]).headers["Content-Type"].startswith("image/svg+xml")


def test_a_persona_without_unionid(wechat):
    token = exchange(wechat, scan(wechat, persona="wang")["code"][0])
    assert "unionid" not in token
    user = json.loads(requests.get(f"{wechat['api_url']}/sns/userinfo", params={
        "access_token": token["access_token"], "openid": token["openid"]}).content)
    assert "unionid" not in user and user["nickname"] == "王五" and user["province"] == ""


def test_userinfo_auth_and_refresh_check_the_token(wechat):
    token = exchange(wechat, scan(wechat)["code"][0])
    api = wechat["api_url"]
    ok = json.loads(requests.get(f"{api}/sns/auth", params={
        "access_token": token["access_token"], "openid": token["openid"]}).content)
    assert ok == {"errcode": 0, "errmsg": "ok"}
    assert json.loads(requests.get(f"{api}/sns/userinfo", params={
        "access_token": "nope", "openid": token["openid"]}).content)["errcode"] == 40001
    assert json.loads(requests.get(f"{api}/sns/auth", params={
        "access_token": token["access_token"], "openid": "someone-else"}).content)["errcode"] == 40003
    refreshed = json.loads(requests.get(f"{api}/sns/oauth2/refresh_token", params={
        "appid": wechat["client_id"], "grant_type": "refresh_token",
        "refresh_token": token["refresh_token"]}).content)
    assert refreshed["access_token"] != token["access_token"] and refreshed["openid"] == token["openid"]


def test_expired_codes_and_tokens(wechat, sandbox):
    code = scan(wechat)["code"][0]
    token = exchange(wechat, scan(wechat)["code"][0])
    sandbox.clock_offset = 7201
    try:
        assert exchange(wechat, code)["errcode"] == 40029
        assert json.loads(requests.get(f"{wechat['api_url']}/sns/userinfo", params={
            "access_token": token["access_token"], "openid": token["openid"]}).content)["errcode"] == 42001
    finally:
        sandbox.clock_offset = 0


def test_the_qr_page_refuses_bad_parameters_without_redirecting(wechat):
    base = {"appid": wechat["client_id"], "redirect_uri": CALLBACK, "response_type": "code",
            "scope": "snsapi_login", "state": "abc"}
    for change in ({"appid": "wx-unknown"}, {"scope": "snsapi_base"}, {"state": "not/alnum"},
                   {"redirect_uri": "javascript:alert(1)"}):
        response = requests.get(f"{wechat['open_url']}/connect/qrconnect", params={**base, **change},
                                allow_redirects=False)
        assert response.status_code == 400 and "Location" not in response.headers


def test_fault_personas(wechat):
    api = wechat["api_url"]
    for key, check in (("ghost", lambda user: "openid" not in user),
                       ("huge", lambda user: len(user["nickname"].encode()) >= 5 * 1024 * 1024 - 3)):
        token = exchange(wechat, scan(wechat, persona=key)["code"][0])
        user = json.loads(requests.get(f"{api}/sns/userinfo", params={
            "access_token": token["access_token"], "openid": token["openid"]}).content)
        assert check(user), key
