"""撤销 has a step before it: the list links to a page naming the key, and only its form revokes."""
from __future__ import annotations

import pytest

from portal.apikeys.models import ApiKey
from portal.extensions import db


@pytest.fixture
def me(users):
    client, _ = users.signed_in_client("keyholder")
    return client


def revoked_at(app, key_id):
    with app.app_context():
        return db.session.get(ApiKey, key_id).revoked_at


def test_the_list_links_to_a_confirmation_that_names_the_key(app, me):
    me.submit("/user/api-keys/new", {"name": "部署机器人", "scopes": ["read"], "lifetime": "90",
                                     "account": "", "networks": ""})
    with app.app_context():
        key = db.session.scalar(db.select(ApiKey))
        key_id, prefix = key.id, key.display_prefix
    url = f"/user/api-keys/{key_id}/revoke"

    listing = me.get("/user/api-keys/").get_data(as_text=True)
    assert f'href="{url}"' in listing

    page = me.get(url, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    confirm = page.get_data(as_text=True).split('id="confirm"')[1]
    assert "部署机器人" in confirm and prefix in confirm and "吊销" in confirm
    assert 'method="post"' in confirm and 'name="csrf_token"' in confirm
    assert revoked_at(app, key_id) is None

    assert me.submit(url).status_code == 302
    assert revoked_at(app, key_id) is not None
    # A revoked key has nothing left to confirm.
    assert me.get(url).headers["Location"].endswith("/user/api-keys/")


def test_revoking_needs_the_form_token(app, me):
    me.submit("/user/api-keys/new", {"name": "ci", "scopes": ["read"], "lifetime": "90",
                                     "account": "", "networks": ""})
    with app.app_context():
        key_id = db.session.scalar(db.select(ApiKey.id))
    assert me.post(f"/user/api-keys/{key_id}/revoke", data={}).status_code == 400
    assert revoked_at(app, key_id) is None


def test_someone_elses_key_has_no_confirmation(app, me, users):
    me.submit("/user/api-keys/new", {"name": "ci", "scopes": ["read"], "lifetime": "90",
                                     "account": "", "networks": ""})
    with app.app_context():
        key_id = db.session.scalar(db.select(ApiKey.id))
    other, _ = users.signed_in_client("someone")
    assert other.get(f"/user/api-keys/{key_id}/revoke").status_code == 404
