"""The WeChat Pay channel plugin against the sandbox, over real HTTP."""

from __future__ import annotations

import importlib.metadata
import json
import secrets
from datetime import timedelta

import pytest
import requests

from portal.billing.channels import ChannelError, ChargeRequest, NotificationError
from portal_devkit.sandbox.notify import NotificationSink
from portal_devkit.sandbox.providers import wechatpay_buyer
from portal.timeutil import utcnow

from .conftest import (
    fast_notifications,
    payment_channel,
    required_settings,
    sandbox_control,
    wait_for_notifications,
)

CONTROL = "/_sandbox/wxpay"


@pytest.fixture
def channel(app):
    with app.app_context():
        yield payment_channel("wechatpay")


@pytest.fixture
def sink(sandbox):
    receiver = NotificationSink(200, b'{"code": "SUCCESS"}', "application/json")
    yield from fast_notifications(sandbox, CONTROL, receiver)


control = sandbox_control(CONTROL)


def new_order_number() -> str:
    return "WX" + secrets.token_hex(10)


def charge(channel, sink, out_trade_no=None, amount_fen=1234, expires_in=timedelta(hours=2)):
    request = ChargeRequest(
        out_trade_no or new_order_number(), amount_fen, "账户充值 ¥12.34", sink.url, utcnow() + expires_in
    )
    return request, channel.create_charge(request)


def paid_notification(sandbox, channel, sink, **faults):
    request, _ = charge(channel, sink)
    control(sandbox, "pay", out_trade_no=request.out_trade_no, faults=faults)
    return request, wait_for_notifications(sink)[0]


def test_sdk_gateway_is_the_configured_base_url(channel, sandbox):
    # The adapter sets a private attribute of the pinned SDK: an upgrade that moves it must fail here.
    assert importlib.metadata.version("wechatpayv3") == "2.0.4"
    assert channel.client._core._gate_way == sandbox.url + "/wxpay"


def test_charge_returns_the_native_code_url_and_reposting_is_idempotent(channel, sandbox, sink):
    request, created = charge(channel, sink)
    assert created.qr_payload.startswith("weixin://wxpay/bizpayurl?pr=")
    assert channel.create_charge(request).qr_payload == created.qr_payload
    order = requests.get(f"{sandbox.url}{CONTROL}/orders/{request.out_trade_no}", timeout=10).json()
    assert order["total"] == 1234 and order["trade_state"] == "NOTPAY"


def test_reusing_an_order_number_with_another_amount_is_refused(channel, sink):
    request, _ = charge(channel, sink)
    with pytest.raises(ChannelError) as refused:
        charge(channel, sink, out_trade_no=request.out_trade_no, amount_fen=999)
    assert refused.value.code == "OUT_TRADE_NO_USED"


def test_paid_notification_is_verified_and_parsed_to_integer_fen(channel, sandbox, sink):
    request, received = paid_notification(sandbox, channel, sink)
    notice = channel.parse_notification(received["headers"], received["body"])
    assert (notice.out_trade_no, notice.amount_fen, notice.paid) == (request.out_trade_no, 1234, True)
    assert notice.transaction_id.startswith("4200") and notice.paid_at is not None
    ack = channel.acknowledge(True)
    assert (ack.status, json.loads(ack.body)["code"]) == (200, "SUCCESS")
    refusal = channel.acknowledge(False)
    assert 400 <= refusal.status < 500 and json.loads(refusal.body)["code"] == "FAIL"
    failure = channel.acknowledge(False, failure=True)
    assert failure.status >= 500 and json.loads(failure.body)["code"] == "FAIL"


def test_a_validly_signed_changed_amount_is_reported_as_signed(channel, sandbox, sink):
    # The plugin cannot know the order's amount: it reports what was signed, the core compares.
    _, received = paid_notification(sandbox, channel, sink, tamper_amount=1)
    assert channel.parse_notification(received["headers"], received["body"]).amount_fen == 1


@pytest.mark.parametrize("fault", ["bad_signature", "signtest", "foreign_merchant", "stale"])
def test_faulty_notifications_are_rejected(channel, sandbox, sink, fault):
    _, received = paid_notification(sandbox, channel, sink, **{fault: True})
    with pytest.raises(NotificationError):
        channel.parse_notification(received["headers"], received["body"])


def test_altered_or_incomplete_notifications_are_rejected(channel, sandbox, sink):
    _, received = paid_notification(sandbox, channel, sink)
    headers, body = received["headers"], received["body"]
    altered_body = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESX"')
    cases = [
        (headers, altered_body),
        ({k: v for k, v in headers.items() if k != "Wechatpay-Signature-Type"}, body),
        ({k: v for k, v in headers.items() if k != "Wechatpay-Timestamp"}, body),
        ({**headers, "Wechatpay-Serial": "PUB_KEY_ID_0000000000"}, body),
        ({**headers, "Wechatpay-Serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"}, body),
        (headers, b"not json"),
        ({}, b""),
    ]
    for case_headers, case_body in cases:
        with pytest.raises(NotificationError):
            channel.parse_notification(case_headers, case_body)


def signed(sandbox, transaction, **envelope):
    """A notification around ``transaction`` (a dict, or its JSON text as sent), with ``envelope``
    changes, validly signed and encrypted with the sandbox's keys: (headers, body)."""
    plaintext = transaction if isinstance(transaction, str) else json.dumps(transaction)
    body = json.dumps({**wechatpay_buyer.encrypted_envelope(sandbox, plaintext), **envelope})
    return wechatpay_buyer.sign_body(sandbox, body), body.encode()


def paid_transaction(sandbox, channel, sink):
    request, _ = charge(channel, sink)
    return request, control(sandbox, "pay", out_trade_no=request.out_trade_no)


def test_only_the_success_state_is_a_payment(channel, sandbox, sink):
    _, transaction = paid_transaction(sandbox, channel, sink)
    assert channel.parse_notification(*signed(sandbox, transaction)).paid
    for state in ("REFUND", "CLOSED", "REVOKED", "PAYERROR", "NOTPAY", "USERPAYING"):
        notice = channel.parse_notification(*signed(sandbox, {**transaction, "trade_state": state}))
        assert notice.paid is False, state
    with pytest.raises(NotificationError):
        channel.parse_notification(*signed(sandbox, {**transaction, "trade_state": "PAID"}))


def test_undocumented_or_repeated_fields_make_a_notification_invalid(channel, sandbox, sink):
    _, transaction = paid_transaction(sandbox, channel, sink)
    text = json.dumps(transaction)
    cases = [
        signed(sandbox, {**transaction, "credit_to": "someone else"}),
        signed(sandbox, {**transaction, "amount": {**transaction["amount"], "bonus": 100}}),
        signed(sandbox, {**transaction, "payer": {"openid": "o1", "name": "x"}}),
        # The last of two trade_state keys would win in a plain json.loads.
        signed(sandbox, text.replace('"trade_state": "SUCCESS"', '"trade_state": "NOTPAY", "trade_state": "SUCCESS"')),
        signed(sandbox, transaction, note="extra"),
        signed(sandbox, {**transaction, "amount": {**transaction["amount"], "total": 12.34}}),
        signed(sandbox, {**transaction, "amount": {**transaction["amount"], "total": True}}),
    ]
    headers, body = signed(sandbox, transaction)
    repeated = body.replace(b'"event_type": "TRANSACTION.SUCCESS"',
                            b'"event_type": "REFUND.SUCCESS", "event_type": "TRANSACTION.SUCCESS"')
    cases.append((wechatpay_buyer.sign_body(sandbox, repeated.decode()), repeated))
    for headers, body in cases:
        with pytest.raises(NotificationError):
            channel.parse_notification(headers, body)


def test_absurd_notifications_are_refused_before_any_signature_work(channel, sandbox, sink, monkeypatch):
    _, transaction = paid_transaction(sandbox, channel, sink)
    headers, body = signed(sandbox, transaction)
    verified = []
    real = channel.client.decrypt_callback
    monkeypatch.setattr(channel.client, "decrypt_callback", lambda *a: verified.append(1) or real(*a))
    envelope = json.loads(body)
    envelope["resource"]["ciphertext"] *= 200
    cases = [
        ({**headers, "Wechatpay-Timestamp": "9" * 400}, body),
        ({**headers, "Wechatpay-Nonce": "n" * 5000}, body),
        ({**headers, "Wechatpay-Signature": "A" * 100_000}, body),
        (headers, json.dumps(envelope).encode()),
        (headers, b"[" * 50_000 + b"]" * 50_000),
    ]
    for case_headers, case_body in cases:
        with pytest.raises(NotificationError):
            channel.parse_notification(case_headers, case_body)
    assert verified == []
    assert channel.parse_notification(headers, body).paid and verified == [1]


def test_headers_are_matched_whatever_their_case(channel, sandbox, sink):
    _, received = paid_notification(sandbox, channel, sink)
    lowered = {key.lower(): value for key, value in received["headers"].items()}
    assert channel.parse_notification(lowered, received["body"]).amount_fen == 1234


def test_an_old_notification_replayed_later_is_rejected(channel, sandbox, sink):
    _, received = paid_notification(sandbox, channel, sink)
    signed_at = int(received["headers"]["Wechatpay-Timestamp"])
    # As if the same bytes arrived six minutes after they were signed.
    replayed = {**received["headers"], "Wechatpay-Timestamp": str(signed_at - 360)}
    with pytest.raises(NotificationError):
        channel.parse_notification(replayed, received["body"])
    request, _ = charge(channel, sink)
    sandbox.clock_offset = -600  # the provider's clock is ten minutes behind ours
    control(sandbox, "pay", out_trade_no=request.out_trade_no)
    late = wait_for_notifications(sink, 2)[1]
    with pytest.raises(NotificationError):
        channel.parse_notification(late["headers"], late["body"])


def test_a_refunded_order_is_not_paid_when_queried(channel, sandbox, sink):
    request, _ = paid_transaction(sandbox, channel, sink)
    assert channel.query(request.out_trade_no).state == "paid"
    control(sandbox, "refund", out_trade_no=request.out_trade_no)
    assert channel.query(request.out_trade_no).state == "refunded"


def test_query_follows_the_order_from_pending_to_paid(channel, sandbox, sink):
    request, _ = charge(channel, sink)
    assert channel.query(request.out_trade_no).state == "pending"
    paid = control(sandbox, "pay", out_trade_no=request.out_trade_no)
    status = channel.query(request.out_trade_no)
    assert (status.state, status.transaction_id, status.amount_fen) == ("paid", paid["transaction_id"], 1234)
    assert channel.query(new_order_number()).state == "not_found"


def test_close_makes_the_order_closed_and_a_paid_order_stays_paid(channel, sandbox, sink):
    request, _ = charge(channel, sink)
    channel.close(request.out_trade_no)
    assert channel.query(request.out_trade_no).state == "closed"
    with pytest.raises(ChannelError) as refused:
        channel.create_charge(request)
    assert refused.value.code == "ORDER_CLOSED"
    paid, _ = charge(channel, sink)
    control(sandbox, "pay", out_trade_no=paid.out_trade_no)
    channel.close(paid.out_trade_no)  # the payment raced the close: the re-query tells
    assert channel.query(paid.out_trade_no).state == "paid"


def test_an_expired_order_reads_closed(channel, sandbox, sink):
    request, _ = charge(channel, sink)
    control(sandbox, "expire", out_trade_no=request.out_trade_no)
    assert channel.query(request.out_trade_no).state == "closed"


def test_transient_failures_raise_channel_errors(channel, sandbox, sink):
    sandbox.clock_offset = 600  # the gateway now sees our requests as signed ten minutes ago
    with pytest.raises(ChannelError) as skewed:
        charge(channel, sink)
    assert skewed.value.code == "SIGN_ERROR"
    sandbox.clock_offset = 0
    channel.client._core._gate_way = "http://127.0.0.1:9/wxpay"
    with pytest.raises(ChannelError) as unreachable:
        channel.query(new_order_number())
    assert unreachable.value.code == "NETWORK"


def test_required_settings_are_declared(app):
    required = {"mchid", "appid", "private_key", "apiv3_key", "platform_public_key"}
    assert required <= required_settings(app, "wechatpay")


def test_a_system_error_is_a_channel_error_and_retrying_the_same_order_is_safe(channel, sandbox, sink):
    control(sandbox, "outage", calls=1)
    request = ChargeRequest(new_order_number(), 800, "账户充值", sink.url, utcnow() + timedelta(hours=1))
    with pytest.raises(ChannelError) as failed:
        channel.create_charge(request)
    assert failed.value.code == "SYSTEM_ERROR"
    assert channel.create_charge(request).qr_payload == channel.create_charge(request).qr_payload


def test_secrets_can_come_from_the_environment(app, sandbox, sink, monkeypatch):
    from portal_wechatpay import WeChatPayChannel

    from portal.plugins import plugin_config

    settings = sandbox.plugin_settings()["wechatpay"]
    monkeypatch.setenv("WECHATPAY_PRIVATE_KEY", settings["private_key"])
    monkeypatch.setenv("WECHATPAY_APIV3_KEY", settings["apiv3_key"])
    app.config["PLUGINS"]["wechatpay"] = {
        **settings,
        "private_key": {"$env": "WECHATPAY_PRIVATE_KEY"},
        "apiv3_key": {"$env": "WECHATPAY_APIV3_KEY"},
    }
    with app.app_context():
        from_environment = WeChatPayChannel(plugin_config("wechatpay"))
    assert charge(from_environment, sink)[1].qr_payload.startswith("weixin://")
