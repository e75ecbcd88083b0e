"""External URLs come from configuration (PUBLIC_URL, BILLING_NOTIFY_BASE_URL), never from the
request's Host or X-Forwarded-Host; outside development, requests for other hosts are refused."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from portal import create_app
from portal.config import ConfigError


def test_production_refuses_to_start_without_public_url(portal_config):
    with pytest.raises(ConfigError, match="PUBLIC_URL is not set"):
        create_app(dict(portal_config, PUBLIC_URL=None))


@pytest.mark.parametrize("bad", ["portal.example", "ftp://portal.example", "https://portal.example/?x=1"])
def test_a_public_url_that_is_no_http_url_is_refused(portal_config, bad):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        create_app(dict(portal_config, PUBLIC_URL=bad))


def test_development_needs_no_public_url(tmp_path):
    app = create_app({"ENVIRONMENT": "development", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "PLUGINS_ENABLED": []}, instance_path=str(tmp_path))
    assert app.config["TRUSTED_HOSTS"] is None
    assert app.test_client().get("/auth/sign-in", base_url="http://anything.test").status_code == 200


def test_a_forged_host_is_refused(client):
    assert client.get("/auth/sign-in").status_code == 200
    assert client.get("/auth/sign-in", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/auth/sign-in", base_url="http://evil.example").status_code == 400


@pytest.fixture
def proxied(portal_config, app, tmp_path):
    # (``app`` for its teardown, which empties the test database this app writes to as well.)
    """Behind one reverse proxy, reached as https://portal.example and also as portal.internal (and
    localhost, the test client's own host)."""
    app = create_app(dict(portal_config, PUBLIC_URL="https://portal.example", TRUSTED_PROXY_COUNT=1,
                          ALLOWED_HOSTS=["portal.internal", "localhost"]), instance_path=str(tmp_path / "instance"))
    from portal_devkit.testing.client import PortalClient

    app.test_client_class = PortalClient
    return app


def test_a_forged_x_forwarded_host_behind_a_trusted_proxy_is_refused(proxied):
    client = proxied.test_client()
    proxy = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    ok = client.get("/auth/sign-in", base_url="http://10.0.0.5:8000",
                    headers={**proxy, "X-Forwarded-Host": "portal.example"})
    assert ok.status_code == 200
    forged = client.get("/auth/sign-in", base_url="http://10.0.0.5:8000",
                        headers={**proxy, "X-Forwarded-Host": "evil.example"})
    assert forged.status_code == 400
    # The proxy's own Host header, without X-Forwarded-Host, is no more trusted.
    assert client.get("/auth/sign-in", base_url="http://evil.example", headers=proxy).status_code == 400
    assert client.get("/auth/sign-in", base_url="http://portal.internal", headers=proxy).status_code == 200


def test_the_oauth_redirect_uri_comes_from_public_url(proxied):
    client = proxied.test_client()
    headers = {"X-Forwarded-Host": "portal.internal", "X-Forwarded-Proto": "http"}
    token = client.csrf_token("/auth/sign-in")
    started = client.post("/identities/github/sign-in", data={"csrf_token": token}, headers=headers)
    assert started.status_code == 302
    query = parse_qs(urlsplit(started.headers["Location"]).query)
    assert query["redirect_uri"] == ["https://portal.example/identities/github/callback"]


def _charge_sent(sandbox, app, order_id) -> dict:
    from portal.billing.models import Order
    from portal.extensions import db

    with app.app_context():
        number = db.session.get(Order, order_id).current_attempt.out_trade_no
    return sandbox.state["wechatpay"]["orders"][number]


def _recharge(app, users, base_url, headers=None) -> int:
    client, _ = users.signed_in_client()
    token = client.csrf_token("/billing/recharge")
    response = client.post("/billing/recharge", data={"csrf_token": token, "amount": "1.00", "channel": "wechatpay"},
                           base_url=base_url, headers=headers or {})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_notify_url_sent_to_the_channel_comes_from_public_url(proxied, sandbox):
    from portal_devkit.testing.plugin import Users

    order_id = _recharge(proxied, Users(proxied), "http://localhost",
                         {"X-Forwarded-Host": "portal.internal", "X-Forwarded-Proto": "http"})
    sent = _charge_sent(sandbox, proxied, order_id)
    assert sent["notify_url"] == "https://portal.example/billing/notify/wechatpay"


def test_billing_notify_base_url_is_where_channels_post(portal_config, app, sandbox, tmp_path):
    from portal_devkit.testing.client import PortalClient
    from portal_devkit.testing.plugin import Users

    # (``app`` for its teardown, which empties the test database this app writes to as well.)
    notified = create_app(dict(portal_config, BILLING_NOTIFY_BASE_URL="https://pay-notify.example/"),
                          instance_path=str(tmp_path / "notified"))
    notified.test_client_class = PortalClient
    assert "pay-notify.example" in notified.config["TRUSTED_HOSTS"]
    order_id = _recharge(notified, Users(notified), "http://localhost")
    assert _charge_sent(sandbox, notified, order_id)["notify_url"] == (
        "https://pay-notify.example/billing/notify/wechatpay")


def test_the_api_and_the_page_build_the_notify_url_in_one_place():
    import inspect

    import portal.api.services
    import portal.billing.views

    for module in (portal.api.services, portal.billing.views):
        assert "notify_url" not in inspect.getsource(module)


@pytest.mark.parametrize("count", ["two", -1])
def test_a_proxy_count_that_is_no_count_is_refused(portal_config, count):
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_COUNT must be a whole number"):
        create_app(dict(portal_config, TRUSTED_PROXY_COUNT=count))


def test_without_trusted_proxies_forwarded_headers_are_ignored(client):
    # TRUSTED_PROXY_COUNT = 0: X-Forwarded-Host is no way around the host check, nor a way in.
    assert client.get("/auth/sign-in", headers={"X-Forwarded-Host": "evil.example"}).status_code == 200
    assert client.get("/auth/sign-in", headers={"Host": "evil.example",
                                                "X-Forwarded-Host": "localhost"}).status_code == 400


def test_a_request_for_an_unknown_host_gets_a_short_plain_answer(client):
    refused = client.get("/no-such-page", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert refused.content_type.startswith("text/plain")
    assert "evil.example" not in refused.get_data(as_text=True)
