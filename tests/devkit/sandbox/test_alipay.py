"""The Alipay sandbox speaks the OpenAPI gateway: RSA2 both ways, precreate/query/close, notifications."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from portal_devkit.sandbox.notify import ALIPAY_RETRY_SCHEDULE, NotificationSink

from .conftest import fast_notifications, wait_until

CHINA = timezone(timedelta(hours=8))


class App:
    """Calls the gateway the way Alipay specifies, signing with the app key the sandbox issued."""

    def __init__(self, sandbox):
        self.settings = sandbox.plugin_settings()["alipay"]
        self.key = serialization.load_pem_private_key(self.settings["app_private_key"].encode(), None)
        self.platform = serialization.load_pem_public_key(self.settings["alipay_public_key"].encode())

    def params(self, method, biz, skew=timedelta(0), **top):
        params = {
            "app_id": self.settings["app_id"],
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "version": "1.0",
            "biz_content": json.dumps(biz),
            "timestamp": (datetime.now(CHINA) + skew).strftime("%Y-%m-%d %H:%M:%S"),
            **top,
        }
        message = "&".join(f"{k}={params[k]}" for k in sorted(params) if params[k])
        params["sign"] = base64.b64encode(
            self.key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        return params

    def call(self, method, biz, post=False, **kwargs):
        params = self.params(method, biz, **kwargs)
        if post:
            response = requests.post(self.settings["gateway"], data=params, timeout=10)
        else:
            response = requests.get(self.settings["gateway"], params=params, timeout=10)
        return response.content.decode("utf-8")

    def verified(self, raw: str, method: str) -> dict:
        """The inner object, after checking ``sign`` over its exact bytes as embedded."""
        key = method.replace(".", "_") + "_response"
        start = raw.index("{", raw.index(key))
        end = raw.rindex(',"sign":"')
        inner = raw[start:end]
        sign = json.loads(raw)["sign"]
        self.platform.verify(base64.b64decode(sign), inner.encode(), padding.PKCS1v15(), hashes.SHA256())
        return json.loads(inner)

    def precreate(self, notify_url="http://127.0.0.1:9/notify", **biz):
        biz = {
            "out_trade_no": "AL" + secrets.token_hex(8),
            "total_amount": "12.34",
            "subject": "账户充值",
            **biz,
        }
        return biz, self.verified(
            self.call("alipay.trade.precreate", biz, notify_url=notify_url), "alipay.trade.precreate"
        )


@pytest.fixture
def app_client(sandbox):
    yield from fast_notifications(sandbox, "/_sandbox/alipay", App(sandbox))


@pytest.fixture
def sink():
    receiver = NotificationSink(200, b"success")
    yield receiver
    receiver.close()


def control(sandbox, action, **data):
    return requests.post(f"{sandbox.url}/_sandbox/alipay/{action}", json=data, timeout=10)


def test_precreate_answers_a_signed_qr_code_that_opens_the_phone_page(app_client, sandbox):
    biz, answer = app_client.precreate()
    assert answer["code"] == "10000" and answer["out_trade_no"] == biz["out_trade_no"]
    assert answer["qr_code"].startswith(sandbox.url + "/alipay/qr/")
    page = requests.get(answer["qr_code"], timeout=10)
    assert page.status_code == 200 and "12.34" in page.text


def test_post_form_requests_are_accepted_too(app_client):
    biz = {"out_trade_no": "AL" + secrets.token_hex(8), "total_amount": 1, "subject": "x"}
    raw = app_client.call("alipay.trade.precreate", biz, post=True)
    assert app_client.verified(raw, "alipay.trade.precreate")["code"] == "10000"


def test_bad_signature_and_stale_timestamp_get_unsigned_errors(app_client):
    params = app_client.params("alipay.trade.query", {"out_trade_no": "x"})
    params["biz_content"] = json.dumps({"out_trade_no": "y"})
    body = requests.get(app_client.settings["gateway"], params=params, timeout=10).json()
    assert "sign" not in body and body["alipay_trade_query_response"]["sub_code"] == "isv.invalid-signature"
    stale = json.loads(
        app_client.call("alipay.trade.query", {"out_trade_no": "x"}, skew=timedelta(minutes=-16))
    )
    assert stale["alipay_trade_query_response"]["sub_code"] == "isv.invalid-timestamp"
    foreign = json.loads(
        app_client.call("alipay.trade.query", {"out_trade_no": "x"}, app_id="2021000000000001")
    )
    assert foreign["alipay_trade_query_response"]["sub_code"] == "isv.invalid-app-id"


@pytest.mark.parametrize(
    "amount,sub_code",
    [
        ("0", "ACQ.INVALID_PARAMETER"),
        ("0.001", "ACQ.INVALID_PARAMETER"),
        ("-1", "ACQ.INVALID_PARAMETER"),
        ("NaN", "ACQ.INVALID_PARAMETER"),
        ("abc", "ACQ.INVALID_PARAMETER"),
        ("100000000.01", "ACQ.TOTAL_FEE_EXCEED"),
    ],
)
def test_invalid_amounts_are_business_failures(app_client, amount, sub_code):
    _, answer = app_client.precreate(total_amount=amount)
    assert (answer["code"], answer["sub_code"]) == ("40004", sub_code)


def test_the_trade_exists_only_once_scanned(app_client, sandbox):
    biz, _ = app_client.precreate()
    number = {"out_trade_no": biz["out_trade_no"]}
    query = app_client.verified(app_client.call("alipay.trade.query", number), "alipay.trade.query")
    assert query["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    assert control(sandbox, "scan", **number).json()["status"] == "WAIT_BUYER_PAY"
    query = app_client.verified(app_client.call("alipay.trade.query", number), "alipay.trade.query")
    assert (query["code"], query["trade_status"], query["total_amount"]) == (
        "10000",
        "WAIT_BUYER_PAY",
        "12.34",
    )
    closed = app_client.verified(app_client.call("alipay.trade.close", number), "alipay.trade.close")
    assert closed["code"] == "10000" and closed["trade_no"] == query["trade_no"]
    _, again = app_client.precreate(**biz)
    assert again["sub_code"] == "ACQ.TRADE_HAS_CLOSE"


def test_closing_an_unscanned_order_voids_its_qr_code(app_client, sandbox):
    biz, _ = app_client.precreate()
    closed = app_client.verified(
        app_client.call("alipay.trade.close", {"out_trade_no": biz["out_trade_no"]}), "alipay.trade.close"
    )
    assert closed["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    assert control(sandbox, "scan", out_trade_no=biz["out_trade_no"]).status_code == 400


def test_same_number_other_params_is_inconsistent_and_paid_cannot_close(app_client, sandbox):
    biz, first = app_client.precreate()
    assert app_client.precreate(**biz)[1]["qr_code"] == first["qr_code"]
    assert (
        app_client.precreate(**{**biz, "total_amount": "1.00"})[1]["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"
    )
    control(sandbox, "pay", out_trade_no=biz["out_trade_no"])
    closed = app_client.verified(
        app_client.call("alipay.trade.close", {"out_trade_no": biz["out_trade_no"]}), "alipay.trade.close"
    )
    assert closed["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert app_client.precreate(**biz)[1]["sub_code"] == "ACQ.TRADE_HAS_SUCCESS"


def test_timeout_express_starts_at_the_scan(app_client, sandbox):
    biz, _ = app_client.precreate(timeout_express="10m")
    sandbox.clock_offset = 3600  # an hour before anyone scans: still payable
    scanned = control(sandbox, "scan", out_trade_no=biz["out_trade_no"]).json()
    assert scanned["status"] == "WAIT_BUYER_PAY"
    sandbox.clock_offset = 3600 + 11 * 60
    assert control(sandbox, "pay", out_trade_no=biz["out_trade_no"]).status_code == 400
    sandbox.clock_offset = 0


def test_notification_is_signed_and_retried_until_the_body_is_exactly_success(app_client, sandbox, sink):
    sink.answer(200, b"SUCCESS ")
    biz, _ = app_client.precreate(notify_url=sink.url, total_amount="88.80")
    control(sandbox, "pay", out_trade_no=biz["out_trade_no"])
    wait_until(lambda: len(sink.received) >= 3)
    sink.answer(200, b"success")
    log_url = f"{sandbox.url}/_sandbox/alipay/notifications"
    wait_until(lambda: any(e["accepted"] for e in requests.get(log_url, params=biz, timeout=10).json()))
    form = dict(parse_qsl(sink.received[-1]["body"].decode()))
    assert (form["out_trade_no"], form["total_amount"], form["trade_status"]) == (
        biz["out_trade_no"],
        "88.80",
        "TRADE_SUCCESS",
    )
    signature = base64.b64decode(form.pop("sign"))
    assert form.pop("sign_type") == "RSA2"
    message = "&".join(f"{k}={form[k]}" for k in sorted(form))
    app_client.platform.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert len({dict(parse_qsl(r["body"].decode()))["notify_id"] for r in sink.received}) == 1
    assert ALIPAY_RETRY_SCHEDULE == (240, 600, 600, 3600, 7200, 21600, 54000)


def test_tampered_and_badly_signed_notifications(app_client, sandbox, sink):
    biz, _ = app_client.precreate(notify_url=sink.url)
    control(
        sandbox, "pay", out_trade_no=biz["out_trade_no"], faults={"tamper_amount": 1, "bad_signature": True}
    )
    wait_until(lambda: sink.received)
    form = dict(parse_qsl(sink.received[0]["body"].decode()))
    assert form["total_amount"] == "0.01"
    signature = base64.b64decode(form.pop("sign"))
    form.pop("sign_type")
    with pytest.raises(InvalidSignature):
        app_client.platform.verify(
            signature,
            "&".join(f"{k}={form[k]}" for k in sorted(form)).encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )


def test_the_phone_page_scans_pays_and_cancels(app_client, sandbox):
    biz, answer = app_client.precreate()
    page = answer["qr_code"]
    assert "Scan" in requests.get(page, timeout=10).text
    cancelled = requests.post(page, data={"action": "cancel"}, timeout=10)
    assert cancelled.status_code == 200 and "取消" in cancelled.text
    paid = requests.post(page, data={"action": "pay", "amount": "1000"}, timeout=10)
    assert "付款成功" in paid.text
    status = requests.get(f"{sandbox.url}/_sandbox/alipay/orders/{biz['out_trade_no']}", timeout=10).json()
    assert (status["status"], status["total_amount"]) == ("TRADE_SUCCESS", "10.00")
    assert requests.get(f"{sandbox.url}/alipay/qr/nothing", timeout=10).status_code == 404
