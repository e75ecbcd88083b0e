"""Keys made through the API-key service, and a client that sends one as a Bearer header. Messages
are read in English (the source strings)."""

from __future__ import annotations

import pytest


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": [], "BABEL_DEFAULT_LOCALE": "en"}


@pytest.fixture
def make_key(app):
    """``make_key(user_id, scopes=("read",), account_id=None, networks="", lifetime_days=90)`` -> the
    key's secret, made by the same service as the API keys tab."""
    from portal.apikeys import services
    from portal.extensions import db
    from portal.users.models import User

    def make(
        user_id, scopes=("read",), account_id=None, networks="", lifetime_days=90, name="service", now=None
    ):
        with app.app_context():
            user = db.session.get(User, user_id)
            _key, secret = services.create_key(
                user, name, scopes, lifetime_days, account_id, networks, now=now
            )
            return secret

    return make


class ApiClient:
    """``api.get("/me")``: the app's test client with ``Authorization: Bearer <key>``."""

    def __init__(self, client, key: str | None):
        self.client = client
        self.key = key

    def _headers(self, headers):
        merged = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        merged.update(headers or {})
        return merged

    def get(self, path, headers=None, **kwargs):
        return self.client.get(f"/api/v1{path}", headers=self._headers(headers), **kwargs)

    def post(self, path, json=None, headers=None, **kwargs):
        return self.client.post(f"/api/v1{path}", json=json, headers=self._headers(headers), **kwargs)

    def open(self, path, method, headers=None, **kwargs):
        return self.client.open(f"/api/v1{path}", method=method, headers=self._headers(headers), **kwargs)


@pytest.fixture
def api_as(app):
    """``api_as(key)`` -> an ApiClient sending that key (None: no key)."""
    return lambda key: ApiClient(app.test_client(), key)


@pytest.fixture
def owner(app, users):
    """A user with a personal account: ``owner.id``, ``owner.account_id``."""
    from portal.accounts.access import personal_account
    from portal.extensions import db
    from portal.users.models import User

    class Owner:
        pass

    found = Owner()
    found.id = users.create("zhangsan")
    with app.app_context():
        found.account_id = personal_account(db.session.get(User, found.id)).id
    return found


@pytest.fixture
def org(app, users, owner):
    """``org(role)`` -> (the id of a member with ``role`` in a new organization of ``owner``, the
    organization's account id)."""
    from portal.extensions import db
    from portal.orgs import invitations
    from portal.orgs import services as orgs
    from portal.users.models import User

    def make(role="admin"):
        member_id = users.create()
        with app.app_context():
            boss, member = db.session.get(User, owner.id), db.session.get(User, member_id)
            organization = orgs.create_organization(boss, f"org{member_id}", f"Org {member_id}")
            invitation = invitations.invite(organization, boss, member.username, role)
            invitations.accept_invitation(invitation.id, member)
            return member_id, orgs.org_account(organization).id

    return make


def error_code(response) -> str:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return body["error"]["code"]
