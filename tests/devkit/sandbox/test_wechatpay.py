"""The WeChat Pay sandbox speaks API v3: signed requests and responses, orders, encrypted notifications."""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portal_devkit.sandbox.notify import WECHATPAY_RETRY_SCHEDULE, NotificationSink

from .conftest import fast_notifications, wait_until

CHINA = timezone(timedelta(hours=8))


class Merchant:
    """Signs requests the way WeChat Pay specifies, with the merchant key the sandbox issued."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.settings = sandbox.plugin_settings()["wechatpay"]
        self.key = serialization.load_pem_private_key(self.settings["private_key"].encode(), None)
        self.platform = serialization.load_pem_public_key(self.settings["platform_public_key"].encode())

    def request(self, method, path, data=None, skew=0, tamper=False, mchid=None):
        body = json.dumps(data) if data is not None else ""
        timestamp, nonce = str(int(time.time()) + skew), secrets.token_hex(16)
        message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"
        signature = base64.b64encode(
            self.key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        authorization = (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{mchid or self.settings["mchid"]}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{timestamp}",'
            f'serial_no="{self.settings["merchant_serial_no"]}"'
        )
        sent = body + " " if tamper else body
        return requests.request(
            method,
            self.settings["base_url"] + path,
            data=sent.encode(),
            timeout=10,
            headers={"Authorization": authorization, "Content-Type": "application/json"},
        )

    def verify(self, response) -> None:
        headers = response.headers
        assert headers["Wechatpay-Serial"] == self.settings["platform_public_key_id"]
        assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048" and headers["Request-ID"]
        message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{response.text}\n"
        self.platform.verify(
            base64.b64decode(headers["Wechatpay-Signature"]),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )

    def order(self, notify_url="http://127.0.0.1:9/notify", total=100, **extra):
        return {
            "appid": self.settings["appid"],
            "mchid": self.settings["mchid"],
            "description": "充值",
            "out_trade_no": "SB" + secrets.token_hex(8),
            "notify_url": notify_url,
            "amount": {"total": total, "currency": "CNY"},
            **extra,
        }

    def create(self, order):
        response = self.request("POST", "/v3/pay/transactions/native", order)
        assert response.status_code == 200, response.text
        self.verify(response)
        return response.json()["code_url"]


@pytest.fixture
def merchant(sandbox):
    yield from fast_notifications(sandbox, "/_sandbox/wxpay", Merchant(sandbox))


@pytest.fixture
def sink():
    receiver = NotificationSink(204)
    yield receiver
    receiver.close()


def control(sandbox, action, **data):
    return requests.post(f"{sandbox.url}/_sandbox/wxpay/{action}", json=data, timeout=10)


def notifications(sandbox, out_trade_no):
    return requests.get(
        f"{sandbox.url}/_sandbox/wxpay/notifications", params={"out_trade_no": out_trade_no}, timeout=10
    ).json()


def test_native_order_answers_a_signed_code_url(merchant):
    assert merchant.create(merchant.order()).startswith("weixin://wxpay/bizpayurl?pr=")


@pytest.mark.parametrize(
    "problem", [{"tamper": True}, {"skew": -301}, {"skew": 301}, {"mchid": "1900000666"}]
)
def test_badly_signed_or_skewed_requests_get_sign_error(merchant, problem):
    response = merchant.request("POST", "/v3/pay/transactions/native", merchant.order(), **problem)
    assert response.status_code == 401 and response.json()["code"] == "SIGN_ERROR"


def test_unsigned_requests_get_sign_error(merchant):
    response = requests.get(
        merchant.settings["base_url"] + "/v3/pay/transactions/out-trade-no/SB123456?mchid=1", timeout=10
    )
    assert response.status_code == 401 and response.json()["code"] == "SIGN_ERROR"


def test_invalid_orders_get_param_error(merchant):
    for bad in (
        {"amount": {"total": 0}},
        {"amount": {"total": 1.5}},
        {"out_trade_no": "abc"},
        {"description": "x" * 128},
        {"time_expire": "tomorrow"},
        {"appid": "wx000"},
    ):
        response = merchant.request("POST", "/v3/pay/transactions/native", {**merchant.order(), **bad})
        assert response.status_code == 400 and response.json()["code"] == "PARAM_ERROR", bad


def test_reposting_is_idempotent_and_a_reused_number_with_other_params_is_refused(merchant):
    order = merchant.order()
    assert merchant.create(order) == merchant.create(order)
    response = merchant.request("POST", "/v3/pay/transactions/native", {**order, "amount": {"total": 101}})
    assert response.status_code == 403 and response.json()["code"] == "OUT_TRADE_NO_USED"


def test_close_answers_a_signed_204_and_a_closed_order_cannot_be_created_again(merchant):
    order = merchant.order()
    merchant.create(order)
    path = f"/v3/pay/transactions/out-trade-no/{order['out_trade_no']}/close"
    closed = merchant.request("POST", path, {"mchid": merchant.settings["mchid"]})
    assert closed.status_code == 204 and closed.content == b""
    merchant.verify(closed)
    again = merchant.request("POST", "/v3/pay/transactions/native", order)
    assert again.status_code == 400 and again.json()["code"] == "ORDER_CLOSED"
    unknown = merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/SBunknown1/close", {"mchid": merchant.settings["mchid"]}
    )
    assert unknown.status_code == 204


def test_query_by_out_trade_no_and_by_transaction_id(merchant, sandbox):
    order = merchant.order(total=250)
    merchant.create(order)
    path = f"/v3/pay/transactions/out-trade-no/{order['out_trade_no']}?mchid={merchant.settings['mchid']}"
    pending = merchant.request("GET", path)
    merchant.verify(pending)
    assert pending.json()["trade_state"] == "NOTPAY"
    paid = control(sandbox, "pay", out_trade_no=order["out_trade_no"]).json()
    by_id = merchant.request(
        "GET", f"/v3/pay/transactions/id/{paid['transaction_id']}?mchid={merchant.settings['mchid']}"
    )
    body = by_id.json()
    assert (body["trade_state"], body["amount"]["total"], body["trade_type"]) == ("SUCCESS", 250, "NATIVE")
    assert body["out_trade_no"] == order["out_trade_no"] and body["payer"]["openid"]
    missing = merchant.request(
        "GET", f"/v3/pay/transactions/out-trade-no/SBmissing1?mchid={merchant.settings['mchid']}"
    )
    assert missing.status_code == 404 and missing.json()["code"] == "ORDER_NOT_EXIST"


def test_an_order_past_its_time_expire_is_closed_and_cannot_be_paid(merchant, sandbox):
    soon = (datetime.now(CHINA) + timedelta(minutes=1)).isoformat(timespec="seconds")
    order = merchant.order(time_expire=soon)
    merchant.create(order)
    sandbox.clock_offset = 120  # still inside the request window, but past the order's expiry
    assert control(sandbox, "pay", out_trade_no=order["out_trade_no"]).status_code == 400
    path = f"/v3/pay/transactions/out-trade-no/{order['out_trade_no']}?mchid={merchant.settings['mchid']}"
    assert merchant.request("GET", path).json()["trade_state"] == "CLOSED"
    sandbox.clock_offset = 0
    other = merchant.order()
    merchant.create(other)
    assert control(sandbox, "expire", out_trade_no=other["out_trade_no"]).json()["trade_state"] == "CLOSED"


def test_notification_is_signed_encrypted_and_retried_until_acknowledged(merchant, sandbox, sink):
    sink.answer(500, b'{"code":"FAIL"}')
    order = merchant.order(notify_url=sink.url, total=321)
    merchant.create(order)
    control(sandbox, "pay", out_trade_no=order["out_trade_no"])
    wait_until(lambda: len(sink.received) >= 3)
    sink.answer(200, b"")
    wait_until(lambda: any(e["accepted"] for e in notifications(sandbox, order["out_trade_no"])))
    log = notifications(sandbox, order["out_trade_no"])
    assert [e["attempt"] for e in log[:3]] == [1, 2, 3] and log[0]["status"] == 500
    received = sink.received[-1]
    headers, body = received["headers"], received["body"]
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{body.decode()}\n"
    merchant.platform.verify(
        base64.b64decode(headers["Wechatpay-Signature"]),
        message.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    event = json.loads(body)
    assert event["event_type"] == "TRANSACTION.SUCCESS" and event["resource_type"] == "encrypt-resource"
    resource = event["resource"]
    plain = AESGCM(merchant.settings["apiv3_key"].encode()).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"]),
        resource["associated_data"].encode(),
    )
    paid = json.loads(plain)
    assert (paid["out_trade_no"], paid["amount"]["total"], paid["trade_state"]) == (
        order["out_trade_no"],
        321,
        "SUCCESS",
    )
    # Every retry carries the same event, freshly signed.
    assert len({json.loads(r["body"])["id"] for r in sink.received}) == 1


def test_the_retry_schedule_is_wechat_pays(merchant):
    assert (
        WECHATPAY_RETRY_SCHEDULE[:6] == (15, 15, 30, 180, 600, 1200) and len(WECHATPAY_RETRY_SCHEDULE) == 15
    )


def test_duplicate_drop_and_replay_faults(merchant, sandbox, sink):
    order = merchant.order(notify_url=sink.url)
    merchant.create(order)
    control(sandbox, "pay", out_trade_no=order["out_trade_no"], faults={"duplicate": 5, "drop": 2})
    # The log is written once each send has its answer, after the receiver saw it: wait on the log.
    number = order["out_trade_no"]
    wait_until(lambda: len([e for e in notifications(sandbox, number) if not e["dropped"]]) >= 5)
    log = notifications(sandbox, order["out_trade_no"])
    assert [e["dropped"] for e in log[:2]] == [True, True]
    sent = [e for e in log if not e["dropped"]]
    assert len(sent) == 5 and {e["attempt"] for e in sent} == {3} and len({e["body"] for e in sent}) == 1
    replayed = requests.post(
        f"{sandbox.url}/_sandbox/wxpay/notifications/{sent[0]['id']}/replay", timeout=10
    ).json()
    assert replayed["faults"] == ["replay"] and replayed["body"] == sent[0]["body"]
    assert sink.received[-1]["headers"]["Wechatpay-Signature"] == sent[0]["headers"]["Wechatpay-Signature"]


def test_a_held_notification_is_signed_and_kept_for_replay_not_sent(merchant, sandbox, sink):
    order = merchant.order(notify_url=sink.url, total=222)
    merchant.create(order)
    number = order["out_trade_no"]
    control(sandbox, "pay", out_trade_no=number, faults={"hold": True})
    notifier = sandbox.state["wechatpay"]["notifier"]
    wait_until(lambda: number in notifier.held)
    url, headers, body = notifier.held[number]
    assert url == sink.url and notifications(sandbox, number) == [] and sink.received == []
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{body.decode()}\n"
    merchant.platform.verify(base64.b64decode(headers["Wechatpay-Signature"]), message.encode(),
                             padding.PKCS1v15(), hashes.SHA256())
    requests.post(url, data=body, headers=headers, timeout=10)
    assert sink.received[-1]["body"] == body


def test_control_api_refuses_bad_requests(merchant, sandbox):
    assert control(sandbox, "pay", out_trade_no="SBnope0001").status_code == 400
    order = merchant.order()
    merchant.create(order)
    assert (
        control(sandbox, "pay", out_trade_no=order["out_trade_no"], faults={"explode": 1}).status_code == 400
    )
    assert control(sandbox, "pay", out_trade_no=order["out_trade_no"], amount=-5).status_code == 400
    assert control(sandbox, "scan", out_trade_no="SBnope0001").status_code == 404
    assert control(sandbox, "settings", notify_time_scale="fast").status_code == 400


def test_paying_a_different_amount(merchant, sandbox):
    order = merchant.order(total=1000)
    merchant.create(order)
    assert (
        control(sandbox, "pay", out_trade_no=order["out_trade_no"], amount=10).json()["amount"]["total"] == 10
    )


def test_the_phone_page_scans_and_pays(merchant, sandbox):
    order = merchant.order(total=4567)
    code_url = merchant.create(order)
    page = f"{sandbox.url}/wxpay/_scan/{code_url.split('pr=')[1]}"
    shown = requests.get(page, timeout=10)
    assert shown.status_code == 200 and "45.67" in shown.text and order["out_trade_no"] in shown.text
    requests.post(page, data={"action": "scan"}, timeout=10)
    paid = requests.post(page, data={"action": "pay", "amount": ""}, timeout=10)
    assert paid.status_code == 200 and "支付成功" in paid.text
    assert order["out_trade_no"] in requests.get(f"{sandbox.url}/wxpay/_scan/", timeout=10).text
    assert requests.get(f"{sandbox.url}/wxpay/_scan/unknown", timeout=10).status_code == 404


def test_delayed_notifications_arrive_and_cancelled_retries_stop(merchant, sandbox, sink):
    order = merchant.order(notify_url=sink.url)
    merchant.create(order)
    control(sandbox, "pay", out_trade_no=order["out_trade_no"], faults={"delay": 0.2})
    wait_until(lambda: sink.received)
    sink.answer(503)
    unacked = merchant.order(notify_url=sink.url)
    merchant.create(unacked)
    control(sandbox, "pay", out_trade_no=unacked["out_trade_no"], faults={"drop": -1})
    wait_until(lambda: len(notifications(sandbox, unacked["out_trade_no"])) >= 2)
    assert all(e["dropped"] for e in notifications(sandbox, unacked["out_trade_no"]))
    assert control(sandbox, "notifications/cancel").json() == {"cancelled": True}
