"""The sandbox's GitHub, Bitbucket and CODING speak their providers' formats, errors included, so
the plugins meet the same answers they would in production."""
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from portal_devkit.testing.contract import ProviderBrowser

REDIRECT = "http://portal.test/identities/x/callback"


def approve(authorize_url, persona="alice"):
    """Click "Approve as <persona>"; the parameters the provider redirects back with."""
    location = ProviderBrowser(client=None).consent(authorize_url, persona)
    return dict(parse_qsl(urlsplit(location).query))


@pytest.fixture
def github(sandbox):
    settings = sandbox.plugin_settings()["github"]
    base = settings["web_url"]
    url = f"{base}/login/oauth/authorize?client_id={settings['client_id']}&redirect_uri={REDIRECT}&state=s1"
    return settings, base, url


def test_github_token_is_form_encoded_unless_json_is_asked_for(sandbox, github):
    settings, base, url = github
    code = approve(url)["code"]
    body = {"client_id": settings["client_id"], "client_secret": settings["client_secret"], "code": code,
            "redirect_uri": REDIRECT}
    answer = requests.post(f"{base}/login/oauth/access_token", data=body, timeout=10)
    assert answer.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert answer.text.startswith("access_token=gho_") and "token_type=bearer" in answer.text


def test_github_errors_are_http_200_with_an_error_field(sandbox, github):
    settings, base, url = github
    code = approve(url)["code"]
    body = {"client_id": settings["client_id"], "client_secret": "wrong", "code": code}
    headers = {"Accept": "application/json"}
    answer = requests.post(f"{base}/login/oauth/access_token", data=body, headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.json()["error"] == "incorrect_client_credentials"
    body.update(client_secret=settings["client_secret"], redirect_uri="http://elsewhere.test/cb")
    answer = requests.post(f"{base}/login/oauth/access_token", data=body, headers=headers, timeout=10)
    assert answer.json()["error"] == "redirect_uri_mismatch"
    answer = requests.post(f"{base}/login/oauth/access_token", data=body, headers=headers, timeout=10)
    assert answer.json()["error"] == "bad_verification_code"


def test_github_codes_last_ten_minutes(sandbox, github):
    settings, base, url = github
    code = approve(url)["code"]
    body = {"client_id": settings["client_id"], "client_secret": settings["client_secret"], "code": code}
    sandbox.clock_offset = 601
    try:
        answer = requests.post(f"{base}/login/oauth/access_token", data=body,
                               headers={"Accept": "application/json"}, timeout=10)
    finally:
        sandbox.clock_offset = 0
    assert answer.json()["error"] == "bad_verification_code"


def test_github_user_api_refuses_a_bad_token(sandbox):
    api = sandbox.plugin_settings()["github"]["api_url"]
    answer = requests.get(f"{api}/user", headers={"Authorization": "Bearer gho_nope"}, timeout=10)
    assert answer.status_code == 401 and answer.json()["message"] == "Bad credentials"


def test_bitbucket_uses_basic_auth_and_400_errors(sandbox):
    settings = sandbox.plugin_settings()["bitbucket"]
    base = settings["web_url"]
    url = f"{base}/site/oauth2/authorize?client_id={settings['client_id']}&response_type=code&state=s2" \
          f"&redirect_uri={REDIRECT}"
    code = approve(url, "bob")["code"]
    auth = (settings["client_id"], settings["client_secret"])
    answer = requests.post(f"{base}/site/oauth2/access_token", auth=auth,
                           data={"grant_type": "authorization_code", "code": code}, timeout=10)
    token = answer.json()
    assert token["expires_in"] == 7200 and token["scopes"] == "account email" and token["refresh_token"]
    again = requests.post(f"{base}/site/oauth2/access_token", auth=auth,
                          data={"grant_type": "authorization_code", "code": code}, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    user = requests.get(f"{settings['api_url']}/2.0/user", timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert user["uuid"].startswith("{") and "username" not in user
    assert user["links"]["avatar"]["href"].endswith("/bob42.svg")


def test_coding_answers_with_team_string_expiry_and_response_envelope(sandbox):
    settings = sandbox.plugin_settings()["coding"]
    base = settings["base_url"]
    url = f"{base}/oauth_authorize.html?client_id={settings['client_id']}&response_type=code&state=s3" \
          f"&redirect_uri={REDIRECT}&scope=user:profile:ro"
    callback = approve(url)
    assert callback["team"] == "sandbox-team"
    # Older clients put the fields in the query string.
    fields = {"client_id": settings["client_id"], "client_secret": settings["client_secret"],
              "grant_type": "authorization_code", "code": callback["code"]}
    token = requests.post(f"{base}/api/oauth/access_token", params=fields, timeout=10).json()
    assert token["expires_in"] == "7200" and token["team"] == "sandbox-team"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    user = requests.post(f"{base}/open-api", json={"Action": "DescribeCodingCurrentUser"}, headers=headers,
                         timeout=10).json()
    assert user["Response"]["User"]["EmailValidation"] == 1
    refused = requests.post(f"{base}/open-api", json={"Action": "DescribeCodingCurrentUser"},
                            timeout=10).json()
    assert refused["Response"]["Error"]["Code"] == "AuthFailure"


def test_coding_refresh_ends_the_old_access_token(sandbox):
    settings = sandbox.plugin_settings()["coding"]
    base = settings["base_url"]
    url = f"{base}/oauth_authorize.html?client_id={settings['client_id']}&response_type=code&state=s4" \
          f"&redirect_uri={REDIRECT}"
    fields = {"client_id": settings["client_id"], "client_secret": settings["client_secret"]}
    token = requests.post(f"{base}/api/oauth/access_token", timeout=10, data={
        **fields, "grant_type": "authorization_code", "code": approve(url)["code"]}).json()
    requests.post(f"{base}/api/oauth/access_token", timeout=10, data={
        **fields, "grant_type": "refresh_token", "refresh_token": token["refresh_token"]}).raise_for_status()
    old = requests.post(f"{base}/open-api", json={"Action": "DescribeCodingCurrentUser"}, timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert old["Response"]["Error"]["Code"] == "AuthFailure"


def test_consent_page_refuses_an_unknown_client_or_a_missing_callback(sandbox):
    settings = sandbox.plugin_settings()["github"]
    base = settings["web_url"]
    page = requests.get(f"{base}/login/oauth/authorize?client_id=nobody&state=x", timeout=10)
    assert page.status_code == 400 and "unknown client_id" in page.text
    page = requests.get(f"{base}/login/oauth/authorize?client_id={settings['client_id']}&state=x", timeout=10)
    assert page.status_code == 400 and "redirect_uri is required" in page.text
