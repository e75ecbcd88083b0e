"""Signing in with a provider account: known accounts sign in, unknown ones may sign up, and
nothing ever attaches itself to an existing account."""
import pytest

from portal.accounts.models import Account
from portal.extensions import db
from portal.identities import services
from portal.identities.models import Identity
from portal.users.models import User


def all_users(app):
    with app.app_context():
        found = db.session.scalars(db.select(User).order_by(User.id))
        return [(u.username, u.password_hash is None) for u in found]


def test_unknown_account_creates_a_passwordless_user_with_a_personal_account(app, provider_browser):
    browser = provider_browser()
    response = browser.sign_in("github", "alice")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/profile")
    assert all_users(app) == [("Alice-Wang", True)]
    with app.app_context():
        user = db.session.scalar(db.select(User))
        assert db.session.scalar(db.select(Account).filter_by(user_id=user.id)) is not None
        assert list(services.identities_of(user.id)) == ["github"]
    assert "Alice Wang" in browser.client.get("/identities/").get_data(as_text=True)


def test_usernames_are_derived_and_kept_unique(app, provider_browser):
    provider_browser().sign_in("github", "alice")
    provider_browser().sign_in("bitbucket", "alice")
    provider_browser().sign_in("coding", "huge")
    names = [name for name, _ in all_users(app)]
    assert names[0] == "Alice-Wang"
    assert names[1].startswith("Alice-Wang-") and len(names[1]) == len("Alice-Wang-0000")
    # A name with no Latin letters (the 5 MB one is all 名) falls back to the provider.
    assert names[2] == "coding-user"


def test_linked_account_signs_in_to_its_user(app, member, provider_browser):
    browser, user_id = member
    browser.link("bitbucket", "bob")
    fresh = provider_browser()
    assert fresh.sign_in("bitbucket", "bob").status_code == 302
    assert len(all_users(app)) == 1
    page = fresh.client.get("/identities/").get_data(as_text=True)
    assert "鲍勃 Bob" in page


def test_same_email_never_attaches_to_the_existing_account(app, users, provider_browser):
    alice_id = users.create("alice", email="alice@example.com")
    # The sandbox's "mallory" reports alice@example.com as her verified primary email.
    assert provider_browser().sign_in("github", "mallory").status_code == 302
    with app.app_context():
        assert services.identities_of(alice_id) == {}
        mallory = db.session.scalar(db.select(Identity)).user
        assert mallory.id != alice_id and mallory.username == "mallory"
        assert mallory.emails == []


@pytest.fixture
def no_github_sign_up(portal_config):
    portal_config["PLUGINS"]["github"]["allow_sign_up"] = False


def test_operator_can_turn_off_sign_up_per_provider(no_github_sign_up, app, provider_browser):
    refused = provider_browser().sign_in("github", "alice")
    assert refused.status_code == 403
    assert "没有用户绑定该 GitHub 账户" in refused.get_data(as_text=True)
    assert all_users(app) == []
    assert provider_browser().sign_in("bitbucket", "alice").status_code == 302


def test_linked_account_still_signs_in_when_sign_up_is_off(no_github_sign_up, app, member, provider_browser):
    browser, _ = member
    browser.link("github", "alice")
    assert provider_browser().sign_in("github", "alice").status_code == 302


def test_disabled_user_cannot_sign_in_with_a_provider(app, member, provider_browser):
    browser, user_id = member
    browser.link("github", "alice")
    with app.app_context():
        db.session.get(User, user_id).is_active = False
        db.session.commit()
    refused = provider_browser().sign_in("github", "alice")
    assert refused.status_code == 403
    assert "已被停用" in refused.get_data(as_text=True)


def test_sign_in_page_offers_every_provider(client):
    page = client.get("/auth/sign-in").get_data(as_text=True)
    for provider in ("github", "bitbucket", "coding"):
        assert f'action="/identities/{provider}/sign-in"' in page


def provider_form(page, provider):
    """The fields of the sign-in page's "Sign in with <provider>" button."""
    from portal_devkit.testing.contract import _Forms

    forms = _Forms()
    forms.feed(page)
    [form] = [f for f in forms.forms if f["action"] == f"/identities/{provider}/sign-in"]
    return form["fields"]


def test_sign_in_returns_to_the_page_that_asked_for_it(provider_browser):
    browser = provider_browser()
    to_sign_in = browser.client.get("/identities/?from=mail")
    assert to_sign_in.status_code == 302
    page = browser.client.get(to_sign_in.headers["Location"]).get_data(as_text=True)
    fields = provider_form(page, "bitbucket")
    assert fields["next"] == "/identities/?from=mail"
    started = browser.client.post("/identities/bitbucket/sign-in", data=fields)
    landed = browser.back_to_portal(browser.consent(started.headers["Location"]))
    assert landed.status_code == 302
    assert landed.headers["Location"] == "/identities/?from=mail"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "profile"])
def test_sign_in_never_returns_to_another_site(provider_browser, target):
    browser = provider_browser()
    page = browser.client.get("/auth/sign-in", query_string={"next": target}).get_data(as_text=True)
    started = browser.client.post("/identities/github/sign-in", data=provider_form(page, "github"))
    landed = browser.back_to_portal(browser.consent(started.headers["Location"]))
    assert landed.status_code == 302
    assert landed.headers["Location"].endswith("/profile")
