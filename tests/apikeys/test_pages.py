"""The API密钥 tab: create a key (its secret shown once), see the list, revoke."""

from __future__ import annotations

import re

import pytest

from portal.apikeys.models import ApiKey
from portal.extensions import db


@pytest.fixture
def me(users):
    client, user_id = users.signed_in_client("keyholder")
    client.user_id = user_id
    return client


def _create(client, **fields):
    data = {
        "name": "deploy-bot",
        "scopes": ["read", "usage"],
        "lifetime": "90",
        "account": "",
        "networks": "",
    }
    data.update(fields)
    return client.submit("/user/api-keys/new", data)


def test_the_tab_is_in_the_user_center(me):
    page = me.get("/user/profile").get_data(as_text=True)
    assert 'href="/user/api-keys/"' in page
    page = me.get("/user/api-keys/").get_data(as_text=True)
    assert "No API keys yet." in page and 'href="/user/api-keys/new"' in page


def test_creating_shows_the_secret_once_with_a_copy_button(app, me):
    response = _create(me)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = re.search(r'id="apikey-secret" value="(pk_[0-9A-Za-z]{46})"', page).group(1)
    assert 'id="apikey-copy"' in page and "shown only this once" in page
    listing = me.get("/user/api-keys/").get_data(as_text=True)
    assert secret not in listing and secret[:11] in listing
    assert "deploy-bot" in listing and "Never used" in listing
    # The secret works at once.
    assert (
        app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )


def test_the_form_defaults_to_90_days_and_warns_about_never(me):
    page = me.get("/user/api-keys/new").get_data(as_text=True)
    assert re.search(r'value="90" id="lifetime-90"\s+checked', page)
    assert 'id="apikey-never-warning"' in page
    response = _create(me, lifetime="never")
    assert "Never" in response.get_data(as_text=True)


def test_mistakes_come_back_on_their_field_and_create_nothing(app, me):
    response = _create(me, name="", networks="not-an-address")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Give the key a name" in page
    response = _create(me, networks="not-an-address")
    assert "not-an-address is not an IP address" in response.get_data(as_text=True)
    response = _create(me, scopes=[])
    assert "Choose at least one permission." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ApiKey)) == 0


def test_creating_needs_the_csrf_token(app, me):
    response = me.post("/user/api-keys/new", data={"name": "x", "scopes": ["read"], "lifetime": "90"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ApiKey)) == 0


def test_revoking_from_the_list(app, me):
    secret = re.search(r'value="(pk_\w+)"', _create(me).get_data(as_text=True)).group(1)
    with app.app_context():
        key_id = db.session.scalar(db.select(ApiKey.id))
    response = me.submit(f"/user/api-keys/{key_id}/revoke", {}, page="/user/api-keys/")
    assert response.status_code == 302
    listing = me.get("/user/api-keys/").get_data(as_text=True)
    assert "Revoked" in listing and f"/user/api-keys/{key_id}/revoke" not in listing
    assert (
        app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_nobody_else_sees_or_revokes_my_keys(app, me, users):
    _create(me)
    with app.app_context():
        key_id = db.session.scalar(db.select(ApiKey.id))
    other, _ = users.signed_in_client("other")
    assert "deploy-bot" not in other.get("/user/api-keys/").get_data(as_text=True)
    assert other.submit(f"/user/api-keys/{key_id}/revoke", {}, page="/user/api-keys/").status_code == 404
    with app.app_context():
        assert db.session.get(ApiKey, key_id).revoked_at is None


def test_the_pages_need_sign_in(client):
    assert client.get("/user/api-keys/").status_code == 302
    assert client.get("/user/api-keys/new").status_code == 302


def test_creating_a_key_needs_a_fresh_step_up(app, me):
    import time

    from portal.auth import stepup
    from portal_devkit.testing.plugin import DEFAULT_PASSWORD

    with me.session_transaction() as session:
        session[stepup.SESSION_KEY] = time.time() - stepup.FRESH_SECONDS - 1
    page = me.get("/user/api-keys/new")
    assert page.status_code == 302
    assert page.headers["Location"] == "/auth/step-up?next=/user/api-keys/new"
    # A form opened earlier and posted once stale creates nothing.
    stale = me.post("/user/api-keys/new", data={"name": "x", "scopes": ["read"], "lifetime": "90",
                                                "csrf_token": me.csrf_token("/user/api-keys/")},
                    headers={"Referer": "http://localhost/user/api-keys/new"})
    assert stale.headers["Location"] == "/auth/step-up?next=/user/api-keys/new"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ApiKey)) == 0
    confirmed = me.submit("/auth/step-up", {"password": DEFAULT_PASSWORD, "next": "/user/api-keys/new",
                                            "action": "password"})
    assert confirmed.headers["Location"] == "/user/api-keys/new"
    assert _create(me).status_code == 200


def test_creating_and_revoking_send_a_notice(app, me, mailbox):
    # The sandbox's mailbox lives as long as the test session: only what arrives now counts.
    before = len(mailbox.notices("keyholder@example.com"))
    _create(me, name="ci-runner")
    [created] = mailbox.notices("keyholder@example.com")[before:]
    assert "ci-runner" in created["body"] and "was created" in created["body"]
    with app.app_context():
        key_id = db.session.scalar(db.select(ApiKey.id))
    me.submit(f"/user/api-keys/{key_id}/revoke", {}, page="/user/api-keys/")
    revoked = mailbox.notices("keyholder@example.com")[-1]
    assert "ci-runner" in revoked["body"] and "was revoked" in revoked["body"]
