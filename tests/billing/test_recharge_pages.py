"""The recharge page: which account, how much, which channel; and who may recharge at all."""
from __future__ import annotations

import html
import re

import pytest


def _orders(app, account_id):
    from portal.billing import orders

    with app.app_context():
        return orders.history(account_id)


def test_recharge_page_names_the_account_and_offers_both_channels(payer):
    page = payer.get("/billing/recharge").get_data(as_text=True)

    assert 'id="billing-account"' in page and "user" in page
    assert 'value="wechatpay"' in page and 'value="alipay"' in page


@pytest.mark.parametrize(
    "amount, message",
    [
        ("", "Enter an amount."),
        ("0", "at least 0.01 yuan"),
        ("-1", "at most 2 decimals"),
        ("0.001", "at most 2 decimals"),
        ("1e309", "at most 2 decimals"),
        ("NaN", "at most 2 decimals"),
        ("1_000", "at most 2 decimals"),
        ("１０００", "at most 2 decimals"),
        ("50000.01", "at most 50,000.00 yuan"),
    ],
)
def test_bad_amounts_are_refused_with_a_reason_and_create_nothing(app, payer, amount, message):
    payer.set_cookie("locale", "en")
    response = payer.submit("/billing/recharge", {"amount": amount, "channel": "wechatpay"},
                            headers={"Accept-Language": "en"})

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _orders(app, payer.account_id) == []


def test_an_unknown_channel_is_refused(app, payer):
    response = payer.submit("/billing/recharge", {"amount": "10", "channel": "paypal"})

    assert response.status_code == 400
    assert 'id="channel-error"' in response.get_data(as_text=True)
    assert _orders(app, payer.account_id) == []


def test_recharge_without_csrf_token_is_refused(app, payer):
    response = payer.post("/billing/recharge", data={"amount": "10", "channel": "wechatpay"})

    assert response.status_code == 400
    assert _orders(app, payer.account_id) == []


def test_recharge_needs_sign_in(client):
    response = client.get("/billing/recharge")

    assert response.status_code in (302, 401)


def test_a_plain_member_cannot_recharge_the_organization(app, org_member):
    client, account_id = org_member("member")

    page = client.get("/billing/recharge", headers={"Accept-Language": "en"})
    assert page.status_code == 403
    assert 'id="billing-forbidden"' in page.get_data(as_text=True)

    posted = client.post("/billing/recharge", data={"amount": "10", "channel": "wechatpay",
                                                    "csrf_token": client.csrf_token("/billing/history")})
    assert posted.status_code == 403
    assert _orders(app, account_id) == []


def test_others_orders_are_not_found(app, payer, users):
    from portal.billing import orders

    with app.app_context():
        order_id = orders.open_order(payer.account_id, "wechatpay", 1000).id
    stranger, _ = users.signed_in_client()

    assert stranger.get(f"/billing/orders/{order_id}").status_code == 404
    assert stranger.get(f"/billing/orders/{order_id}/status").status_code == 404
    token = stranger.csrf_token("/billing/history")
    assert stranger.post(f"/billing/orders/{order_id}/pay", data={"csrf_token": token}).status_code == 404
    assert payer.get(f"/billing/orders/{order_id}/status").json["state"] == "pending"


def test_history_pages_newest_first_with_a_keyset_cursor(app, payer):
    from portal.billing import orders

    app.config["RECHARGE_MAX_PENDING_ORDERS"] = 25
    with app.app_context():
        ids = [orders.open_order(payer.account_id, "alipay", 100 + i).id for i in range(25)]

    first = payer.get("/billing/history").get_data(as_text=True)
    shown = [i for i in ids if f'data-order-id="{i}"' in first]
    assert shown == ids[5:]
    assert first.index(f'data-order-id="{ids[-1]}"') < first.index(f'data-order-id="{ids[5]}"')
    next_link = re.search(r'href="(/billing/history\?cursor=[^"]+)" id="billing-next"', first).group(1)

    second = payer.get(html.unescape(next_link)).get_data(as_text=True)
    assert [i for i in ids if f'data-order-id="{i}"' in second] == ids[:5]
    assert 'id="billing-next"' not in second
    assert payer.get("/billing/history?cursor=abc").status_code == 400


def test_the_maximum_is_the_operators_setting(app, payer):
    app.config["RECHARGE_MAX_FEN"] = 1000

    refused = payer.submit("/billing/recharge", {"amount": "10.01", "channel": "alipay"},
                           headers={"Accept-Language": "en"})

    assert refused.status_code == 400
    assert "at most 10.00 yuan" in refused.get_data(as_text=True)
