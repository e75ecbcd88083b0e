"""解绑 has a step before it: the list links to a page naming the linked account, and only its form
unlinks."""
from __future__ import annotations

from portal.extensions import db
from portal.identities import services
from portal.users.models import User

ZH = {"Accept-Language": "zh-CN"}


def linked(app, user_id):
    with app.app_context():
        return sorted(services.identities_of(user_id))


def test_the_list_links_to_a_confirmation_that_names_the_account(app, member):
    browser, user_id = member
    assert browser.link("coding", "alice").status_code == 302

    listing = browser.client.get("/identities/", headers=ZH).get_data(as_text=True)
    assert 'href="/identities/coding/unlink"' in listing

    page = browser.client.get("/identities/coding/unlink", headers=ZH)
    assert page.status_code == 200
    confirm = page.get_data(as_text=True).split('id="confirm"')[1]
    assert "Alice Wang" in confirm and "CODING" in confirm
    assert 'method="post"' in confirm and 'name="csrf_token"' in confirm and "解除绑定" in confirm
    assert linked(app, user_id) == ["coding"]

    assert browser.client.submit("/identities/coding/unlink").status_code == 302
    assert linked(app, user_id) == []


def test_unlinking_needs_the_form_token(app, member):
    browser, user_id = member
    browser.link("github", "alice")
    assert browser.client.post("/identities/github/unlink", data={}).status_code == 400
    assert linked(app, user_id) == ["github"]


def test_nothing_linked_has_no_confirmation(member):
    browser, _ = member
    assert browser.client.get("/identities/github/unlink").status_code == 404


def test_the_last_way_in_says_so_instead_of_asking(app, provider_browser):
    browser = provider_browser()
    assert browser.sign_in("github", "bob").status_code == 302
    refused = browser.client.get("/identities/github/unlink", headers=ZH)
    assert refused.status_code == 409
    assert "唯一的登录方式" in refused.get_data(as_text=True)
    assert 'id="confirm"' not in refused.get_data(as_text=True)
    with app.app_context():
        assert list(services.identities_of(db.session.scalar(db.select(User.id)))) == ["github"]
