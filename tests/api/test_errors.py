"""Bad requests get a JSON error with the status that fits and a reason, never a page or a 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import error_code


@pytest.fixture
def client(owner, make_key, api_as):
    return api_as(make_key(owner.id, scopes=["usage", "billing"]))


def _usage_path(owner):
    return f"/accounts/{owner.account_id}/usage"


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"resource": "containers", "delta": 1', b"\xff\xfe", b"", b'{"delta": ' + b"9" * 5000 + b"}"],
)
def test_malformed_json_is_400(owner, client, body):
    response = client.post(
        _usage_path(owner), data=body, headers={"Content-Type": "application/json", "Idempotency-Key": "m"}
    )
    assert response.status_code == 400
    assert error_code(response) == "malformed_json"


@pytest.mark.parametrize("body", [b"[1, 2]", b'"containers"', b"null", b"7"])
def test_json_that_is_not_an_object_is_422(owner, client, body):
    response = client.post(
        _usage_path(owner), data=body, headers={"Content-Type": "application/json", "Idempotency-Key": "n"}
    )
    assert response.status_code == 422


def test_nan_and_infinity_are_not_numbers_here(owner, client):
    for literal in (b"NaN", b"Infinity", b"1e309"):
        response = client.post(
            _usage_path(owner),
            data=b'{"resource": "containers", "delta": ' + literal + b"}",
            headers={"Content-Type": "application/json", "Idempotency-Key": literal.decode()},
        )
        assert response.status_code == 422, literal


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_is_415(owner, client, content_type):
    headers = {"Idempotency-Key": "t"}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(
        _usage_path(owner), data=b'{"resource": "containers", "delta": 1}', headers=headers
    )
    assert response.status_code == 415
    assert "application/json" in response.get_json()["error"]["message"]


def test_a_2_mb_body_is_413(owner, client):
    response = client.post(
        _usage_path(owner),
        data=b'{"resource": "' + b"x" * 2 * 1024 * 1024 + b'"}',
        headers={"Content-Type": "application/json", "Idempotency-Key": "big"},
    )
    assert response.status_code == 413
    assert error_code(response) == "body_too_large"


def test_a_wrong_method_is_405_with_allow(client):
    response = client.open("/me", "DELETE")
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    response = client.open("/accounts/1/usage", "GET")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_an_unknown_path_is_a_json_404(client, api_as):
    for path in ("/nothing", "/", "/accounts/1/nothing", "/accounts/x"):
        for who in (client, api_as(None)):
            response = who.get(path)
            assert response.status_code == 404, path
            assert error_code(response) == "not_found"


def test_errors_speak_the_clients_language(owner, api_as):
    response = api_as(None).get("/me", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "请以 Authorization: Bearer <密钥> 发送 API 密钥。"


def test_a_server_error_is_a_json_500_that_tells_nothing(app, client, monkeypatch):
    from portal.api import services

    def broken(_key):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(services, "me_view", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/me")
    assert response.status_code == 500
    assert error_code(response) == "internal_error"
    assert "hunter2" not in response.get_data(as_text=True)
