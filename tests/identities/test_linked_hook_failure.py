"""A plugin whose portal_identity_linked hook fails undoes the link: the person is told on the page,
the error is logged (without the provider's code or token), and nothing is stored."""
import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.extensions import db
from portal.identities.models import Identity, LinkedSubject
from portal.plugins import hookimpl
from portal.users.models import User

FAILED = "绑定 GitHub 账户时本站出错"


class FailingLinkedHook:
    @hookimpl
    def portal_identity_linked(self, user, identity, first_link):
        raise RuntimeError("welcome bonus service is down")


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_EXTRA": [*portal_config["PLUGINS_EXTRA"], FailingLinkedHook()]}


def stored(app):
    with app.app_context():
        count = db.select(db.func.count())
        return tuple(db.session.scalar(count.select_from(model)) for model in (User, Identity, LinkedSubject))


def test_failed_hook_rolls_back_the_link_and_says_so_on_the_tab(app, member, caplog):
    browser, _ = member
    location = browser.consent(browser.start("github"), "alice")
    code = parse_qs(urlsplit(location).query)["code"][0]
    with caplog.at_level(logging.ERROR, logger="portal.identities"):
        response = browser.back_to_portal(location)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert FAILED in page and 'data-provider="github"' in page
    assert stored(app) == (1, 0, 0)
    [record] = [r for r in caplog.records if r.name == "portal.identities.services"]
    assert record.exc_info and "github" in record.getMessage()
    assert code not in caplog.text and "Alice" not in caplog.text


def test_failed_hook_on_sign_up_creates_no_user(app, provider_browser):
    response = provider_browser().sign_in("github", "alice")
    assert response.status_code == 503
    assert FAILED in response.get_data(as_text=True)
    assert stored(app) == (0, 0, 0)
