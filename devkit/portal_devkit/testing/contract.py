"""The contract every sign-in/link provider plugin must pass, and the browser it is driven with.

A plugin author subclasses ``ProviderContract`` in their own tests::

    from portal_devkit.testing.contract import ProviderContract

    class TestGitHubContract(ProviderContract):
        provider = "github"

The app then has just that plugin, pointed at the running sandbox (override ``provider_settings``
to point it at another test server). ``ProviderBrowser`` plays the person: it starts a flow in the
portal (Flask test client), clicks "Approve as ..." or "Deny" on the provider's consent page over
real HTTP with ``requests``, and follows the redirect back into the portal.
"""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests


class _Forms(HTMLParser):
    """The forms of a page: action, hidden inputs and submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "fields": {}, "buttons": []})
        elif self.forms and tag == "input" and attrs.get("name") and attrs.get("type") != "submit":
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""
        elif self.forms and tag == "button" and attrs.get("name"):
            self.forms[-1]["buttons"].append((attrs["name"], attrs.get("value") or ""))


class ProviderBrowser:
    """One person's browser: a portal test client plus a ``requests`` session for the provider."""

    def __init__(self, client, http: requests.Session | None = None):
        self.client = client
        self.http = http or requests.Session()

    def start(self, provider: str, purpose: str = "link") -> str:
        """Press "Link" (or a "Sign in with" button); returns the provider's authorize URL."""
        # The CSRF token comes from the page the button is on (the sign-in page only when signed out).
        signed_out = self.client.get("/auth/sign-in").status_code == 200
        page = "/auth/sign-in" if purpose != "link" and signed_out else "/identities/"
        response = self.client.submit(f"/identities/{provider}/{purpose}", page=page)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response.headers["Location"]

    def consent(self, authorize_url: str, choice: str | int = 0) -> str:
        """Open the consent page and click: an int picks the n-th "Approve as" persona, a string a
        persona key, "deny" the Deny button. Returns where the provider redirects the browser."""
        page = self.http.get(authorize_url, timeout=30)
        assert page.status_code == 200, page.text[:500]
        parser = _Forms()
        parser.feed(page.text)
        buttons = [(form, name, value) for form in parser.forms for name, value in form["buttons"]]
        if choice == "deny":
            picked = [b for b in buttons if b[2] == "deny"]
        else:
            personas = [b for b in buttons if b[1] == "persona"]
            if isinstance(choice, int):
                picked = personas[choice:choice + 1]
            else:
                picked = [b for b in personas if b[2] == choice]
        assert picked, f"no button {choice!r} on the consent page"
        form, name, value = picked[0]
        answer = self.http.post(urljoin(page.url, form["action"] or page.url),
                                data={**form["fields"], name: value}, allow_redirects=False, timeout=60)
        assert answer.status_code in (301, 302, 303), answer.text[:500]
        return answer.headers["Location"]

    def back_to_portal(self, location: str):
        """Follow the provider's redirect into the portal (the callback)."""
        parts = urlsplit(location)
        return self.client.get(f"{parts.path}?{parts.query}")

    def run(self, provider: str, purpose: str = "link", choice: str | int = 0):
        return self.back_to_portal(self.consent(self.start(provider, purpose), choice))

    def link(self, provider: str, choice: str | int = 0):
        return self.run(provider, "link", choice)

    def sign_in(self, provider: str, choice: str | int = 0):
        return self.run(provider, "sign-in", choice)


class ProviderContract:
    """Behaviour every provider plugin must show; subclass and set ``provider``."""

    provider: str = ""

    def provider_settings(self, sandbox) -> dict:
        return sandbox.plugin_settings().get(self.provider, {})

    @pytest.fixture
    def portal_config(self, portal_config, sandbox):
        return {**portal_config, "PLUGINS_ENABLED": [self.provider],
                "PLUGINS": {self.provider: self.provider_settings(sandbox)}}

    @pytest.fixture
    def browser(self, app):
        return ProviderBrowser(app.test_client())

    @pytest.fixture
    def member(self, users):
        """A signed-in user (with a password) and their browser."""
        client, user_id = users.signed_in_client()
        return ProviderBrowser(client), user_id

    def linked(self, app, user_id):
        from portal.identities import services

        with app.app_context():
            return services.identities_of(user_id).get(self.provider)

    def test_link_shows_the_account_and_unlink_removes_it(self, app, member):
        browser, user_id = member
        response = browser.link(self.provider)
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
        identity = self.linked(app, user_id)
        assert identity is not None and identity.subject
        page = browser.client.get("/identities/").get_data(as_text=True)
        assert (identity.name or identity.subject) in page
        unlinked = browser.client.submit(f"/identities/{self.provider}/unlink", page="/identities/")
        assert unlinked.status_code == 302
        assert self.linked(app, user_id) is None

    def test_sign_in_round_trip(self, app, browser):
        first = browser.sign_in(self.provider)
        assert first.status_code == 302, first.get_data(as_text=True)[:1000]
        assert browser.client.get("/identities/").status_code == 200
        again = ProviderBrowser(app.test_client(), browser.http)
        assert again.sign_in(self.provider).status_code == 302
        assert again.client.get("/identities/").status_code == 200
        assert self.counts(app) == (1, 1), "the second sign-in must reach the account the first one created"

    def counts(self, app) -> tuple[int, int]:
        """(users, linked identities) in the database."""
        from portal.extensions import db
        from portal.identities.models import Identity
        from portal.users.models import User

        with app.app_context():
            count = db.select(db.func.count())
            return (db.session.scalar(count.select_from(User)),
                    db.session.scalar(count.select_from(Identity)))

    def test_unlinking_the_only_way_to_sign_in_is_refused(self, app, browser):
        assert browser.sign_in(self.provider).status_code == 302
        refused = browser.client.submit(f"/identities/{self.provider}/unlink", page="/identities/")
        assert refused.status_code == 409
        assert self.counts(app) == (1, 1)

    def test_account_linked_elsewhere_is_refused(self, app, users, member):
        browser, user_id = member
        assert browser.link(self.provider).status_code == 302
        other_client, other_id = users.signed_in_client()
        refused = ProviderBrowser(other_client).link(self.provider)
        assert refused.status_code == 409
        assert self.linked(app, other_id) is None
        assert self.linked(app, user_id) is not None

    def test_denied_consent_changes_nothing(self, app, member):
        browser, user_id = member
        response = browser.link(self.provider, "deny")
        assert response.status_code == 400
        assert self.linked(app, user_id) is None

    def test_state_must_match_this_browser_and_be_unused(self, app, users, member):
        browser, user_id = member
        location = browser.consent(browser.start(self.provider))
        other_client, _ = users.signed_in_client()
        assert ProviderBrowser(other_client).back_to_portal(location).status_code == 400
        made_up = location.replace("state=", "state=x", 1)
        assert browser.back_to_portal(made_up).status_code == 400
        assert browser.back_to_portal(location).status_code == 302
        assert browser.back_to_portal(location).status_code == 400
        assert self.linked(app, user_id) is not None
