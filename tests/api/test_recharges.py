"""POST /accounts/{id}/recharges: the same recharge as the web page (a pending order, its QR at the
channel), for keys with the billing permission of owners and admins."""

from __future__ import annotations

import pytest
import requests

from portal.extensions import db
from tests.api.conftest import error_code


@pytest.fixture
def portal_config(portal_config):
    # The payment channels, pointed at the sandbox.
    return {**portal_config, "PLUGINS_ENABLED": None}


def _orders(app, account_id):
    from portal.billing.models import Order

    with app.app_context():
        found = list(db.session.scalars(db.select(Order).filter_by(account_id=account_id)))
        for order in found:
            order.qr_payload = order.current_attempt.qr_payload
        return found


@pytest.mark.parametrize("channel, scheme", [("wechatpay", "weixin://"), ("alipay", "http")])
def test_a_recharge_returns_the_order_and_its_qr_payload(app, owner, make_key, api_as, channel, scheme):
    client = api_as(make_key(owner.id, scopes=["billing"]))
    response = client.post(
        f"/accounts/{owner.account_id}/recharges", json={"channel": channel, "amount_fen": 1234}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["order"]["state"] == "pending" and body["order"]["amount_fen"] == 1234
    assert body["order"]["channel"] == channel
    assert body["qr_payload"].startswith(scheme)
    [order] = _orders(app, owner.account_id)
    assert order.id == body["order"]["id"] and order.created_by_id == owner.id
    assert order.qr_payload == body["qr_payload"]
    # The order is in the account's history, for the API and the web page alike.
    listed = client.get(f"/accounts/{owner.account_id}/orders").get_json()["orders"]
    assert [o["id"] for o in listed] == [order.id]


def test_recharging_needs_the_billing_permission(app, owner, make_key, api_as):
    response = api_as(make_key(owner.id, scopes=["read", "usage"])).post(
        f"/accounts/{owner.account_id}/recharges", json={"channel": "wechatpay", "amount_fen": 100}
    )
    assert response.status_code == 403
    assert error_code(response) == "insufficient_scope"
    assert _orders(app, owner.account_id) == []


def test_organization_members_cannot_recharge_but_admins_can(app, org, make_key, api_as):
    member_id, account_id = org("member")
    response = api_as(make_key(member_id, scopes=["billing"])).post(
        f"/accounts/{account_id}/recharges", json={"channel": "wechatpay", "amount_fen": 100}
    )
    assert response.status_code == 403
    assert error_code(response) == "forbidden"
    admin_id, admin_account_id = org("admin")
    response = api_as(make_key(admin_id, scopes=["billing"])).post(
        f"/accounts/{admin_account_id}/recharges", json={"channel": "alipay", "amount_fen": 100}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body, code",
    [
        ({"channel": "paypal", "amount_fen": 100}, "unknown_channel"),
        ({"channel": "wechatpay", "amount_fen": 5_000_001}, "amount_too_large"),
        ({"channel": "wechatpay", "amount_fen": 0}, "invalid_request"),
        ({"channel": "wechatpay", "amount_fen": "100"}, "invalid_request"),
        ({"channel": "wechatpay", "amount_fen": 12.5}, "invalid_request"),
        ({"channel": "wechatpay", "amount_fen": 2**63}, "invalid_request"),
        ({"channel": "wechatpay"}, "invalid_request"),
        ({"channel": "wechatpay", "amount_fen": 100, "currency": "USD"}, "invalid_request"),
    ],
)
def test_bad_recharges_are_422_and_create_nothing(app, owner, make_key, api_as, body, code):
    response = api_as(make_key(owner.id, scopes=["billing"])).post(
        f"/accounts/{owner.account_id}/recharges", json=body
    )
    assert response.status_code == 422
    assert error_code(response) == code
    assert _orders(app, owner.account_id) == []


def test_a_channel_outage_is_502_and_the_order_waits_without_a_qr(app, sandbox, owner, make_key, api_as):
    requests.post(f"{sandbox.url}/_sandbox/alipay/outage", json={"calls": 1}, timeout=10).raise_for_status()
    response = api_as(make_key(owner.id, scopes=["billing"])).post(
        f"/accounts/{owner.account_id}/recharges", json={"channel": "alipay", "amount_fen": 100}
    )
    assert response.status_code == 502
    assert error_code(response) == "channel_unavailable"
    [order] = _orders(app, owner.account_id)
    assert order.state == "pending" and order.qr_payload is None


def test_an_account_holds_a_limited_number_of_unpaid_orders(app, owner, make_key, api_as):
    app.config["RECHARGE_MAX_PENDING_ORDERS"] = 2
    client = api_as(make_key(owner.id, scopes=["billing"]))
    path = f"/accounts/{owner.account_id}/recharges"
    for _ in range(2):
        assert client.post(path, json={"channel": "wechatpay", "amount_fen": 100}).status_code == 201

    refused = client.post(path, json={"channel": "wechatpay", "amount_fen": 100})

    assert refused.status_code == 409
    assert error_code(refused) == "too_many_pending_orders"
    assert "pay or close one" in refused.get_json()["error"]["message"]
    assert len(_orders(app, owner.account_id)) == 2


def test_starting_recharges_is_rate_limited(app, owner, make_key, api_as):
    app.config["RECHARGE_START_LIMITS"] = "2/hour"
    client = api_as(make_key(owner.id, scopes=["billing"]))
    path = f"/accounts/{owner.account_id}/recharges"
    for _ in range(2):
        assert client.post(path, json={"channel": "alipay", "amount_fen": 100}).status_code == 201

    refused = client.post(path, json={"channel": "alipay", "amount_fen": 100})

    assert refused.status_code == 429
    assert error_code(refused) == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert len(_orders(app, owner.account_id)) == 2
