"""The callback refuses everything that is not a fresh answer to this browser's own request, and
everything a provider may send that cannot be used."""
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.extensions import db
from portal.identities import oauth
from portal.identities.models import NAME_MAX, Identity
from portal.users.models import User


def counts(app):
    with app.app_context():
        count = db.select(db.func.count())
        return db.session.scalar(count.select_from(User)), db.session.scalar(count.select_from(Identity))


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_github_uses_pkce_s256_and_bitbucket_does_not(provider_browser):
    browser = provider_browser()
    github = query(browser.start("github", "sign-in"))
    assert github["code_challenge_method"] == "S256" and len(github["code_challenge"]) == 43
    assert "code_challenge" not in query(browser.start("bitbucket", "sign-in"))


def test_callback_without_state_is_refused(app, provider_browser):
    browser = provider_browser()
    location = browser.consent(browser.start("github", "sign-in"))
    code = query(location)["code"]
    response = browser.client.get(f"/identities/github/callback?code={code}")
    assert response.status_code == 400
    assert "已过期或已被使用" in response.get_data(as_text=True)
    assert counts(app) == (0, 0)


def test_state_made_for_another_provider_is_refused(app, provider_browser):
    browser = provider_browser()
    state = query(browser.start("bitbucket", "sign-in"))["state"]
    location = browser.consent(browser.start("github", "sign-in"))
    code = query(location)["code"]
    assert browser.client.get(f"/identities/github/callback?code={code}&state={state}").status_code == 400
    assert counts(app) == (0, 0)


def test_state_older_than_ten_minutes_is_refused(app, provider_browser):
    browser = provider_browser()
    location = browser.consent(browser.start("github", "sign-in"))
    with browser.client.session_transaction() as session:
        pending = session[oauth.SESSION_KEY]
        for entry in pending.values():
            entry["expires"] -= oauth.STATE_LIFETIME_SECONDS + 1
        session[oauth.SESSION_KEY] = pending
    assert browser.back_to_portal(location).status_code == 400
    assert counts(app) == (0, 0)


def test_at_most_ten_pending_states_are_kept(provider_browser):
    browser = provider_browser()
    first = browser.consent(browser.start("github", "sign-in"))
    for _ in range(oauth.MAX_PENDING_STATES):
        browser.start("github", "sign-in")
    with browser.client.session_transaction() as session:
        assert len(session[oauth.SESSION_KEY]) == oauth.MAX_PENDING_STATES
    assert browser.back_to_portal(first).status_code == 400


def test_made_up_code_is_refused(app, provider_browser):
    browser = provider_browser()
    state = query(browser.start("github", "sign-in"))["state"]
    response = browser.client.get(f"/identities/github/callback?code=made-up&state={state}")
    assert response.status_code == 400
    assert "bad_verification_code" in response.get_data(as_text=True)
    assert counts(app) == (0, 0)


@pytest.mark.parametrize("provider", ["github", "bitbucket", "coding"])
def test_reused_code_is_refused_by_the_provider(app, provider, provider_browser):
    browser = provider_browser()
    location = browser.consent(browser.start(provider, "sign-in"))
    assert browser.back_to_portal(location).status_code == 302
    # A fresh, valid state, but the code was already exchanged once.
    state = query(browser.start(provider, "sign-in"))["state"]
    used_code = query(location)["code"]
    replay = browser.client.get(f"/identities/{provider}/callback?code={used_code}&state={state}")
    assert replay.status_code == 400
    assert "第三方拒绝了请求" in replay.get_data(as_text=True)
    assert counts(app) == (1, 1)


def test_provider_error_is_shown_and_changes_nothing(app, member):
    browser, user_id = member
    state = query(browser.start("github"))["state"]
    response = browser.client.get(f"/identities/github/callback?error=temporarily_unavailable&state={state}")
    assert response.status_code == 400
    assert "temporarily_unavailable" in response.get_data(as_text=True)
    assert counts(app) == (1, 0)


def test_denied_consent_on_sign_in_says_so(app, provider_browser):
    response = provider_browser().sign_in("coding", "deny")
    assert response.status_code == 400
    assert "拒绝了授权" in response.get_data(as_text=True)
    assert counts(app) == (0, 0)


@pytest.mark.parametrize("provider", ["github", "bitbucket", "coding"])
def test_provider_user_without_an_id_is_refused(app, provider, provider_browser):
    response = provider_browser().sign_in(provider, "ghost")
    assert response.status_code == 400
    assert "id" in response.get_data(as_text=True)
    assert counts(app) == (0, 0)


@pytest.mark.parametrize("provider", ["github", "bitbucket", "coding"])
def test_five_megabyte_name_is_cut_to_size(app, provider, provider_browser):
    assert provider_browser().sign_in(provider, "huge").status_code == 302
    with app.app_context():
        identity = db.session.scalar(db.select(Identity))
        assert len(identity.name) == NAME_MAX


@pytest.fixture(params=["github", "bitbucket", "coding"])
def wrong_secret(request, portal_config):
    portal_config["PLUGINS"][request.param]["client_secret"] = "not-the-secret"
    return request.param


def test_bad_client_secret_is_reported(wrong_secret, app, provider_browser):
    response = provider_browser().sign_in(wrong_secret)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "incorrect_client_credentials" in page or "invalid_client" in page
    assert counts(app) == (0, 0)


def test_code_past_its_lifetime_is_refused(app, sandbox, provider_browser):
    browser = provider_browser()
    location = browser.consent(browser.start("coding", "sign-in"))
    sandbox.clock_offset = 5 * 60 + 1
    try:
        response = browser.back_to_portal(location)
    finally:
        sandbox.clock_offset = 0
    assert response.status_code == 400
    assert counts(app) == (0, 0)


@pytest.fixture
def github_disabled(portal_config):
    portal_config["PLUGINS_ENABLED"] = ["bitbucket", "coding"]


def test_disabled_provider_has_no_routes_and_no_tab_row(github_disabled, member):
    browser, _ = member
    assert browser.client.submit("/identities/github/link", page="/identities/").status_code == 404
    assert browser.client.get("/identities/github/callback?code=x&state=y").status_code == 404
    assert "GitHub" not in browser.client.get("/identities/").get_data(as_text=True)


def test_unknown_provider_is_404(client):
    assert client.get("/identities/nope/callback?code=x&state=y").status_code == 404
