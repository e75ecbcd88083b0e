"""关闭订单 has a step before it: the history links to a page naming the order, and only its form
closes the order."""
from __future__ import annotations

import pytest

from .conftest import ZH, order_row, out_trade_no, recharge

pytestmark = pytest.mark.usefixtures("live_portal")


def test_the_history_links_to_a_confirmation_that_names_the_order(app, payer):
    order_id = recharge(payer, "23.45", "wechatpay")
    url = f"/billing/orders/{order_id}/close"

    history = payer.get("/billing/history", headers=ZH).get_data(as_text=True)
    assert f'href="{url}"' in history

    page = payer.get(url, headers=ZH)
    assert page.status_code == 200
    confirm = page.get_data(as_text=True).split('id="confirm"')[1]
    assert "¥23.45" in confirm and out_trade_no(app, order_id) in confirm
    assert 'method="post"' in confirm and 'name="csrf_token"' in confirm and "关闭订单" in confirm
    assert order_row(app, order_id)["state"] == "pending"

    closed = payer.submit(url, {}, headers={"Accept-Language": "en"}, follow_redirects=True)
    assert "The order was closed." in closed.get_data(as_text=True)
    assert order_row(app, order_id)["state"] == "closed"


def test_closing_needs_the_form_token(app, payer):
    order_id = recharge(payer, "5", "alipay")
    assert payer.post(f"/billing/orders/{order_id}/close", data={}).status_code == 400
    assert order_row(app, order_id)["state"] == "pending"


def test_an_order_that_cannot_be_closed_has_no_confirmation(app, payer):
    order_id = recharge(payer, "6", "wechatpay")
    payer.submit(f"/billing/orders/{order_id}/close", {})

    again = payer.get(f"/billing/orders/{order_id}/close", headers={"Accept-Language": "en"},
                      follow_redirects=True)
    assert 'id="confirm"' not in again.get_data(as_text=True)
    assert "Only orders awaiting payment can be closed." in again.get_data(as_text=True)


def test_someone_else_cannot_see_the_confirmation(app, payer, users):
    order_id = recharge(payer, "7", "wechatpay")
    other, _ = users.signed_in_client()
    assert other.get(f"/billing/orders/{order_id}/close").status_code == 404
