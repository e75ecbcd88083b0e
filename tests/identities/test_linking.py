"""第三方账户: linking and unlinking provider accounts, and the rules that guard them."""
import threading

from portal.extensions import db
from portal.identities import services
from portal.identities.models import Identity
from portal.users.models import User


def identities_of(app, user_id):
    with app.app_context():
        return {provider: (i.subject, i.name) for provider, i in services.identities_of(user_id).items()}


def test_tab_lists_every_enabled_provider_with_a_link_button(member):
    browser, _ = member
    page = browser.client.get("/identities/").get_data(as_text=True)
    for label in ("GitHub", "Bitbucket", "CODING"):
        assert label in page
    assert page.count('action="/identities/') == 3


def test_linked_account_shows_its_name_and_avatar(app, member):
    browser, user_id = member
    response = browser.link("github", "alice")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/identities/")
    page = browser.client.get("/identities/").get_data(as_text=True)
    assert "Alice Wang" in page and "alice@example.com" in page
    assert "/gh-api/avatars/alice-dev.svg" in page
    assert identities_of(app, user_id) == {"github": ("5830001", "Alice Wang")}


def test_linking_a_second_account_of_the_same_provider_is_refused(app, member):
    browser, user_id = member
    assert browser.link("github", "alice").status_code == 302
    refused = browser.link("github", "bob")
    assert refused.status_code == 409
    assert "已绑定了一个 GitHub 账户" in refused.get_data(as_text=True)
    assert identities_of(app, user_id) == {"github": ("5830001", "Alice Wang")}


def test_account_linked_to_someone_else_is_refused_with_a_clear_message(app, users, member, provider_browser):
    browser, _ = member
    assert browser.link("bitbucket", "bob").status_code == 302
    other_client, other_id = users.signed_in_client()
    refused = provider_browser(other_client).link("bitbucket", "bob")
    assert refused.status_code == 409
    assert "已绑定到其他用户" in refused.get_data(as_text=True)
    assert identities_of(app, other_id) == {}


def test_two_browsers_linking_the_same_account_at_once_exactly_one_wins(app, users, provider_browser):
    browsers = [provider_browser(users.signed_in_client()[0]) for _ in range(2)]
    locations = [b.consent(b.start("github"), "alice") for b in browsers]
    statuses = []

    def finish(browser, location):
        statuses.append(browser.back_to_portal(location).status_code)

    threads = [threading.Thread(target=finish, args=pair) for pair in zip(browsers, locations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 409]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Identity)) == 1


def test_unlink_removes_the_link_and_the_account_can_be_linked_again(app, member):
    browser, user_id = member
    assert browser.link("coding", "alice").status_code == 302
    assert browser.client.submit("/identities/coding/unlink", page="/identities/").status_code == 302
    assert identities_of(app, user_id) == {}
    assert browser.link("coding", "alice").status_code == 302
    assert identities_of(app, user_id) == {"coding": ("sandbox-team:183471", "Alice Wang")}


def test_unlinking_what_is_not_linked_is_404(member):
    browser, _ = member
    assert browser.client.submit("/identities/github/unlink", page="/identities/").status_code == 404


def test_user_without_password_keeps_at_least_one_way_to_sign_in(app, provider_browser):
    browser = provider_browser()
    assert browser.sign_in("github", "bob").status_code == 302
    assert browser.link("bitbucket", "bob").status_code == 302
    assert browser.client.submit("/identities/github/unlink", page="/identities/").status_code == 302
    refused = browser.client.submit("/identities/bitbucket/unlink", page="/identities/")
    assert refused.status_code == 409
    assert "唯一的登录方式" in refused.get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(db.select(User))
        assert user.password_hash is None
        assert list(services.identities_of(user.id)) == ["bitbucket"]


def test_linking_while_signed_out_goes_to_sign_in_and_starts_nothing(client):
    response = client.submit("/identities/github/link", page="/auth/sign-in")
    assert response.status_code == 302
    assert "/auth/sign-in" in response.headers["Location"]
    with client.session_transaction() as session:
        assert not session.get("identities.states")


def test_link_finishing_after_sign_out_is_refused(app, member):
    browser, user_id = member
    location = browser.consent(browser.start("github"))
    browser.client.submit("/auth/sign-out", page="/identities/")
    refused = browser.back_to_portal(location)
    assert refused.status_code in (400, 403)
    assert identities_of(app, user_id) == {}


def test_identity_linked_hook_knows_a_first_link_from_a_relink(users, member, provider_browser, linked_hook):
    browser, user_id = member
    browser.link("github", "alice")
    browser.client.submit("/identities/github/unlink", page="/identities/")
    browser.link("github", "alice")
    browser.client.submit("/identities/github/unlink", page="/identities/")
    other_client, other_id = users.signed_in_client()
    provider_browser(other_client).link("github", "alice")
    assert linked_hook.calls == [
        (user_id, "github", "5830001", True),
        (user_id, "github", "5830001", False),
        (other_id, "github", "5830001", False),
    ]


def test_only_post_with_csrf_starts_a_link(member):
    browser, _ = member
    assert browser.client.get("/identities/github/link").status_code == 405
    assert browser.client.post("/identities/github/link").status_code == 400


def test_messages_follow_the_reader_language(member, provider_browser, users):
    browser, _ = member
    browser.link("github", "alice")
    other_client, _ = users.signed_in_client()
    with other_client.session_transaction() as session:
        session["locale"] = "en"
    refused = provider_browser(other_client).link("github", "alice")
    assert "already linked to another Portal user" in refused.get_data(as_text=True)
