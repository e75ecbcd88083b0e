"""Which keys the API takes: from the Authorization header only, well-formed, known, live, from
their IP ranges, with a creator who may still act; checked on every request, on every instance."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest

from portal.apikeys import tokens
from portal.apikeys.models import ApiKey
from portal.extensions import db
from portal.timeutil import utcnow
from tests.api.conftest import error_code
from tests.statements import recorded_statements


def test_a_good_key_reads_its_owner(owner, make_key, api_as):
    response = api_as(make_key(owner.id)).get("/me")
    assert response.status_code == 200
    assert response.get_json()["username"] == "zhangsan"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token pk_x"])
def test_no_bearer_key_is_401_with_the_scheme_to_use(api_as, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = api_as(None).get("/me", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "missing_key"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_truncated_key_is_refused_without_a_lookup(owner, make_key, api_as):
    response = api_as(make_key(owner.id)[:-3]).get("/me")
    assert response.status_code == 401
    assert error_code(response) == "invalid_key"
    assert "49 characters" in response.get_json()["error"]["message"]


def test_a_mistyped_key_fails_its_checksum(owner, make_key, api_as):
    key = make_key(owner.id)
    position = 20
    typo = key[:position] + ("a" if key[position] != "a" else "b") + key[position + 1:]
    response = api_as(typo).get("/me")
    assert response.status_code == 401
    assert "checksum" in response.get_json()["error"]["message"]


def test_a_well_formed_key_nobody_issued_is_unknown(owner, make_key, api_as):
    make_key(owner.id)
    response = api_as(tokens.new_key().secret).get("/me")
    assert response.status_code == 401
    assert response.get_json()["error"] == {"code": "invalid_key", "message": "Unknown API key."}


def test_a_key_with_a_known_lookup_id_but_another_secret_is_unknown(app, owner, make_key, api_as):
    key = make_key(owner.id)
    forged_body = key[:11] + tokens.new_key().secret[11:43]
    forged = forged_body + tokens.checksum(forged_body)
    assert tokens.lookup_id_of(forged) == tokens.lookup_id_of(key)
    assert api_as(forged).get("/me").status_code == 401


def test_a_key_in_the_query_string_is_refused_with_the_reason(owner, make_key, api_as):
    key = make_key(owner.id)
    for query in ({"api_key": key}, {"access_token": "x"}, {"q": key}):
        response = api_as(key).get("/me", query_string=query)
        assert response.status_code == 400
        assert error_code(response) == "key_in_query"
        assert "Authorization header" in response.get_json()["error"]["message"]


def test_revocation_takes_effect_on_the_next_request_on_every_instance(
    app, portal_config, tmp_path, owner, make_key
):
    from portal import create_app
    from portal.apikeys import services

    key = make_key(owner.id)
    other_instance = create_app(portal_config, instance_path=str(tmp_path / "other"))
    headers = {"Authorization": f"Bearer {key}"}
    assert other_instance.test_client().get("/api/v1/me", headers=headers).status_code == 200
    with app.app_context():
        row = db.session.scalar(db.select(ApiKey))
        services.revoke_key(row.user, row)
    for instance in (app, other_instance):
        response = instance.test_client().get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert error_code(response) == "key_revoked"
    with other_instance.app_context():
        db.engine.dispose()


def test_an_expired_key_is_refused(owner, make_key, api_as):
    key = make_key(owner.id, lifetime_days=7, now=utcnow() - timedelta(days=8))
    response = api_as(key).get("/me")
    assert response.status_code == 401
    assert error_code(response) == "key_expired"


def test_a_disabled_owners_keys_stop_working(app, owner, make_key, api_as):
    from portal.users.models import User

    key = make_key(owner.id)
    with app.app_context():
        db.session.get(User, owner.id).is_active = False
        db.session.commit()
    assert api_as(key).get("/me").status_code == 401


def test_ip_ranges_limit_where_calls_come_from(owner, make_key, api_as):
    assert api_as(make_key(owner.id, networks="127.0.0.0/8, ::1")).get("/me").status_code == 200
    response = api_as(make_key(owner.id, networks="10.0.0.0/8\n2001:db8::/32")).get("/me")
    assert response.status_code == 403
    assert error_code(response) == "ip_not_allowed"
    assert "127.0.0.1" in response.get_json()["error"]["message"]


def test_an_organization_key_dies_for_good_when_its_creator_stops_managing(app, org, make_key, api_as, owner):
    from portal.orgs import services as orgs
    from portal.orgs.models import Organization
    from portal.users.models import User

    admin_id, account_id = org("admin")
    key = make_key(admin_id, account_id=account_id)
    assert api_as(key).get(f"/accounts/{account_id}").status_code == 200
    with app.app_context():
        organization = db.session.scalar(db.select(Organization))
        orgs.change_role(organization, db.session.get(User, owner.id), admin_id, "member")
    response = api_as(key).get(f"/accounts/{account_id}")
    assert response.status_code == 401
    assert error_code(response) == "key_revoked"
    with app.app_context():
        organization = db.session.scalar(db.select(Organization))
        orgs.change_role(organization, db.session.get(User, owner.id), admin_id, "admin")
        assert db.session.scalar(db.select(ApiKey.revoked_reason)) == "role_lost"
    assert api_as(key).get("/me").status_code == 401


def test_last_use_is_written_at_most_once_per_interval(app, owner, make_key, api_as):
    key = make_key(owner.id)
    client = api_as(key)
    assert client.get("/me").status_code == 200
    with app.app_context():
        first = db.session.scalar(db.select(ApiKey))
        assert first.last_used_ip == "127.0.0.1"
        used_at = first.last_used_at
    with recorded_statements(app) as statements:
        assert client.get("/me").status_code == 200
    assert not [s for s in statements if s.startswith("UPDATE")]
    with app.app_context():
        assert db.session.scalar(db.select(ApiKey.last_used_at)) == used_at
        # Past the interval, the next call writes again.
        db.session.execute(db.update(ApiKey).values(last_used_at=used_at - timedelta(minutes=6)))
        db.session.commit()
    assert client.get("/me").status_code == 200
    with app.app_context():
        assert db.session.scalar(db.select(ApiKey.last_used_at)) > used_at - timedelta(minutes=6)


def test_sessions_are_not_used(app, users, owner, make_key):
    """A signed-in browser gets nothing from the API without a key, and the API sets no cookie."""
    client, _user_id = users.signed_in_client("browser")
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {make_key(owner.id)}"})
    assert response.get_json()["username"] == "zhangsan"
    assert "Set-Cookie" not in response.headers


def test_no_csrf_token_is_needed_and_cors_is_off(owner, make_key, api_as):
    client = api_as(make_key(owner.id, scopes=["usage"]))
    response = client.post(
        f"/accounts/{owner.account_id}/usage",
        json={"resource": "projects", "delta": 1},
        headers={"Idempotency-Key": "csrf-free", "Origin": "https://elsewhere.example"},
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = api_as(None).open(
        "/me",
        "OPTIONS",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_each_key_has_a_rate_limit(app, owner, make_key, api_as):
    app.config["API_RATE_LIMIT"] = "3/minute"
    client = api_as(make_key(owner.id))
    assert [client.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/me")
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Another key of the same owner has its own allowance.
    assert api_as(make_key(owner.id)).get("/me").status_code == 200


def test_failed_authentications_are_limited_per_address(app, api_as):
    app.config["API_FAILURE_LIMIT"] = "2/minute"
    client = api_as(tokens.new_key().secret)
    assert [client.get("/me").status_code for _ in range(3)] == [401, 401, 429]


def test_the_rate_limit_is_shared_by_every_instance(portal_config, tmp_path, owner, make_key):
    from portal import create_app

    url = os.environ.get("PORTAL_TEST_REDIS_URL")
    if not url:
        pytest.skip("set PORTAL_TEST_REDIS_URL (as .ci/run does) to test limits kept in Redis")
    config = dict(portal_config, RATELIMIT_STORAGE_URI=url, API_RATE_LIMIT="2/minute")
    # A fresh key each run: counts outlive the test in Redis.
    key = make_key(owner.id, name=f"shared-{uuid.uuid4().hex[:8]}")
    instances = [create_app(config, instance_path=str(tmp_path / name)) for name in ("a", "b")]
    headers = {"Authorization": f"Bearer {key}"}
    statuses = [
        instance.test_client().get("/api/v1/me", headers=headers).status_code
        for instance in (instances[0], instances[1], instances[1])
    ]
    assert statuses == [200, 200, 429]
    for instance in instances:
        with instance.app_context():
            db.engine.dispose()
