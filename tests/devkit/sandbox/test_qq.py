"""The QQ Connect sandbox: legacy form/JSONP answers by default, JSON with fmt=json, ret/msg user info."""
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

CALLBACK = "http://portal.test/identities/qq/callback"
JSONP = re.compile(r"^callback\( (\{.*\}) \);\n$", re.S)


@pytest.fixture
def qq(sandbox):
    return sandbox.plugin_settings()["qq"]


def authorize(qq, persona="xiaoming", decision="approve", state="s-1"):
    page = requests.get(f"{qq['graph_url']}/oauth2.0/authorize", params={
        "response_type": "code", "client_id": qq["client_id"], "redirect_uri": CALLBACK,
        "state": state, "scope": "get_user_info",
    })
    assert page.status_code == 200 and "<svg" in page.text
    answer = requests.post(f"{qq['graph_url']}/oauth2.0/confirm", data={
        "client_id": qq["client_id"], "redirect_uri": CALLBACK, "state": state,
        "decision": decision, "persona": persona,
    }, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(CALLBACK + "?")
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def token(qq, code, **extra):
    params = {"grant_type": "authorization_code", "client_id": qq["client_id"],
              "client_secret": qq["client_secret"], "code": code, "redirect_uri": CALLBACK, **extra}
    return requests.get(f"{qq['graph_url']}/oauth2.0/token", params=params)


def jsonp(response):
    match = JSONP.match(response.text)
    assert match, response.text
    return json.loads(match.group(1))


def test_default_token_answer_is_form_encoded(qq):
    answer = token(qq, authorize(qq)["code"][0])
    fields = parse_qs(answer.text)
    assert set(fields) == {"access_token", "expires_in", "refresh_token"}
    assert fields["expires_in"] == ["7776000"]


def test_json_token_answer_with_openid(qq):
    body = token(qq, authorize(qq)["code"][0], fmt="json", need_openid="1").json()
    assert body["expires_in"] == "7776000"  # a string, as the real one sends it
    assert body["openid"] and body["access_token"] and body["refresh_token"]


def test_reused_code_is_a_jsonp_error_by_default_and_json_with_fmt(qq):
    code = authorize(qq)["code"][0]
    assert token(qq, code).status_code == 200
    assert jsonp(token(qq, code)) == {"error": 100020, "error_description": "code is reused error"}
    assert token(qq, code, fmt="json").json()["error"] == 100020


@pytest.mark.parametrize("overrides, error", [
    ({"code": "MADEUP"}, 100019),
    ({"code": ""}, 100005),
    ({"client_secret": "wrong"}, 100009),
    ({"client_id": "1"}, 100008),
    ({"redirect_uri": "http://elsewhere.test/cb"}, 100010),
    ({"grant_type": "password"}, 100004),
])
def test_token_errors(qq, overrides, error):
    params = {"code": authorize(qq)["code"][0], "fmt": "json", **overrides}
    assert token(qq, **params).json()["error"] == error


def test_deny_comes_back_without_a_code(qq):
    query = authorize(qq, decision="deny")
    assert "code" not in query and query["state"] == ["s-1"]


def test_me_in_both_formats_with_unionid(qq):
    access_token = token(qq, authorize(qq)["code"][0], fmt="json").json()["access_token"]
    me_url = f"{qq['graph_url']}/oauth2.0/me"
    legacy = jsonp(requests.get(me_url, params={"access_token": access_token}))
    assert legacy == {"client_id": qq["client_id"], "openid": legacy["openid"]}
    modern = requests.get(me_url, params={"access_token": access_token, "fmt": "json", "unionid": "1"}).json()
    assert modern["openid"] == legacy["openid"] and modern["unionid"].startswith("UID_")
    assert jsonp(requests.get(me_url, params={"access_token": "bad"}))["error"] == 100016


def test_unionid_needs_approval(qq, sandbox):
    access_token = token(qq, authorize(qq)["code"][0], fmt="json").json()["access_token"]
    approved = sandbox.state["qq"]["unionid_approved"]
    approved.discard(qq["client_id"])
    try:
        answer = requests.get(f"{qq['graph_url']}/oauth2.0/me",
                              params={"access_token": access_token, "fmt": "json", "unionid": "1"})
        assert answer.json()["error"] == 100048
    finally:
        approved.add(qq["client_id"])


def test_get_user_info(qq):
    body = token(qq, authorize(qq, persona="hong")["code"][0], fmt="json", need_openid="1").json()
    info_url = f"{qq['graph_url']}/user/get_user_info"
    params = {"access_token": body["access_token"], "oauth_consumer_key": qq["client_id"],
              "openid": body["openid"]}
    info = json.loads(requests.get(info_url, params=params).content)
    assert info["ret"] == 0 and info["nickname"] == "小红🌸"
    assert info["figureurl_qq_2"] == "" and info["figureurl_qq_1"]
    assert json.loads(requests.get(info_url, params={**params, "access_token": "bad"}).content) == {
        "ret": 1002, "msg": "请先登录"}
    assert json.loads(requests.get(info_url, params={**params, "openid": "x"}).content)["ret"] == -1


def test_refresh_tokens_are_single_use(qq):
    body = token(qq, authorize(qq)["code"][0], fmt="json").json()
    refresh = {"grant_type": "refresh_token", "client_id": qq["client_id"],
               "client_secret": qq["client_secret"], "refresh_token": body["refresh_token"], "fmt": "json"}
    first = requests.get(f"{qq['graph_url']}/oauth2.0/token", params=refresh).json()
    assert first["access_token"] != body["access_token"]
    assert requests.get(f"{qq['graph_url']}/oauth2.0/token", params=refresh).json()["error"] == 100015


def test_the_authorize_page_refuses_a_missing_state(qq):
    answer = requests.get(f"{qq['graph_url']}/oauth2.0/authorize", params={
        "response_type": "code", "client_id": qq["client_id"], "redirect_uri": CALLBACK,
    }, allow_redirects=False)
    assert answer.status_code == 400 and "Location" not in answer.headers
