"""The Alipay channel plugin against the sandbox, over real HTTP."""

from __future__ import annotations

import importlib.metadata
import secrets
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import requests

from portal.billing.channels import ChannelError, ChargeRequest, NotificationError
from portal_devkit.sandbox.notify import NotificationSink
from portal_devkit.sandbox.providers import alipay as alipay_sandbox
from portal.timeutil import utcnow

from .conftest import (
    fast_notifications,
    payment_channel,
    required_settings,
    sandbox_control,
    wait_for_notifications,
)

CONTROL = "/_sandbox/alipay"


@pytest.fixture
def channel(app):
    with app.app_context():
        yield payment_channel("alipay")


@pytest.fixture
def sink(sandbox):
    yield from fast_notifications(sandbox, CONTROL, NotificationSink(200, b"success"))


control = sandbox_control(CONTROL)


def charge(channel, sink, out_trade_no=None, amount_fen=1234):
    request = ChargeRequest(
        out_trade_no or "AP" + secrets.token_hex(12),
        amount_fen,
        "账户充值",
        sink.url,
        utcnow() + timedelta(hours=2),
    )
    return request, channel.create_charge(request)


def paid_notification(sandbox, channel, sink, **faults):
    request, _ = charge(channel, sink)
    control(sandbox, "pay", out_trade_no=request.out_trade_no, faults=faults)
    return request, wait_for_notifications(sink)[0]


def parse(channel, form):
    """The channel's reading of ``form`` sent as Alipay sends it (a urlencoded body)."""
    return channel.parse_notification({}, urlencode(form).encode())


def resigned(sandbox, form, **changes):
    """The notification with ``changes``, validly signed by the sandbox's Alipay key."""
    return alipay_sandbox.sign_notification(sandbox, {**form, **changes})


def test_sdk_gateway_is_the_configured_url(channel, sandbox):
    # The adapter sets a private attribute of the pinned SDK: an upgrade that moves it must fail here.
    assert importlib.metadata.version("python-alipay-sdk") == "3.4.0"
    assert channel.client._gateway == sandbox.url + "/alipay/gateway.do"


def test_charge_returns_the_phone_page_url_and_reposting_is_idempotent(channel, sandbox, sink):
    request, created = charge(channel, sink)
    assert created.qr_payload.startswith(sandbox.url + "/alipay/qr/")
    assert requests.get(created.qr_payload, timeout=10).status_code == 200
    assert channel.create_charge(request).qr_payload == created.qr_payload
    with pytest.raises(ChannelError) as refused:
        charge(channel, sink, out_trade_no=request.out_trade_no, amount_fen=999)
    assert refused.value.code == "ACQ.CONTEXT_INCONSISTENT"


def test_paid_notification_is_verified_and_parsed_to_integer_fen(channel, sandbox, sink):
    request, received = paid_notification(sandbox, channel, sink)
    notice = channel.parse_notification(received["headers"], received["body"])
    assert (notice.out_trade_no, notice.amount_fen, notice.paid) == (request.out_trade_no, 1234, True)
    assert notice.transaction_id and notice.paid_at is not None
    assert channel.acknowledge(True).body == "success" and channel.acknowledge(False).body == "fail"


def test_a_validly_signed_changed_amount_is_reported_as_signed(channel, sandbox, sink):
    _, received = paid_notification(sandbox, channel, sink, tamper_amount=1)
    assert parse(channel, received["form"]).amount_fen == 1


@pytest.mark.parametrize("fault", ["bad_signature", "foreign_merchant", "stale"])
def test_faulty_notifications_are_rejected(channel, sandbox, sink, fault):
    _, received = paid_notification(sandbox, channel, sink, **{fault: True})
    with pytest.raises(NotificationError):
        parse(channel, received["form"])


def test_altered_or_foreign_notifications_are_rejected(channel, sandbox, sink):
    _, received = paid_notification(sandbox, channel, sink)
    form = received["form"]
    cases = [
        {**form, "total_amount": "0.01"},  # changed after signing
        {k: v for k, v in form.items() if k != "sign"},
        {**form, "sign_type": "RSA"},
        resigned(sandbox, form, app_id="2021000000000000"),
        resigned(sandbox, form, seller_id="2088000000000000"),
        resigned(sandbox, form, trade_status="TRADE_PENDING"),
        resigned(sandbox, form, notify_time="2020-01-01 00:00:00"),
        {},
    ]
    for case in cases:
        with pytest.raises(NotificationError):
            parse(channel, case)


def test_only_documented_success_states_are_payments(channel, sandbox, sink):
    _, received = paid_notification(sandbox, channel, sink)
    for status, paid in [("TRADE_SUCCESS", True), ("TRADE_FINISHED", True),
                         ("WAIT_BUYER_PAY", False), ("TRADE_CLOSED", False)]:
        notice = parse(channel, resigned(sandbox, received["form"], trade_status=status))
        assert notice.paid is paid, status


def test_undocumented_repeated_or_separator_fields_make_a_notification_invalid(channel, sandbox, sink):
    _, received = paid_notification(sandbox, channel, sink)
    form = received["form"]
    body = urlencode(form)
    cases = [
        # Validly signed over what was sent, but not a documented field.
        urlencode(resigned(sandbox, form, credit_account="42")),
        # Sent twice: whichever copy a parser keeps, the notification is not what was signed.
        body + "&" + urlencode({"out_trade_no": form["out_trade_no"]}),
        body + "&" + urlencode({"trade_status": "TRADE_SUCCESS"}),
        # A value holding the signed string's separators could stand for other fields.
        urlencode(resigned(sandbox, form, subject="x&trade_status=TRADE_SUCCESS")),
        urlencode(resigned(sandbox, form, body="a=b")),
        body + ";sign_type=RSA2",
        body.replace("&", "&&", 1),
    ]
    for case in cases:
        with pytest.raises(NotificationError):
            channel.parse_notification({}, case.encode())


def test_absurd_notifications_are_refused_before_any_signature_work(channel, sandbox, sink, monkeypatch):
    _, received = paid_notification(sandbox, channel, sink)
    form = received["form"]
    verified = []
    real = channel.client.verify
    monkeypatch.setattr(channel.client, "verify", lambda *a: verified.append(1) or real(*a))
    cases = [
        "a=1&" * 100_000 + urlencode(form),
        urlencode({**form, "notify_time": "9" * 400}),
        urlencode({**form, "sign": "A" * 100_000}),
        urlencode({**form, "subject": "充" * 5000}),
    ]
    for case in cases:
        with pytest.raises(NotificationError):
            channel.parse_notification({}, case.encode())
    assert verified == []
    assert channel.parse_notification({}, urlencode(form).encode()).paid and verified == [1]


def test_the_subject_sent_holds_no_separator(channel, sandbox, sink):
    request = ChargeRequest("AP" + secrets.token_hex(12), 100, "A&B=C recharge", sink.url,
                            utcnow() + timedelta(hours=1))
    channel.create_charge(request)
    trade = requests.get(f"{sandbox.url}{CONTROL}/orders/{request.out_trade_no}", timeout=10).json()
    assert trade["subject"] == "A B C recharge"


@pytest.mark.parametrize(
    "amount", ["12.3", "12.345", "1e3", "-12.34", "NaN", "１２.34", "1_000.00", "", "012.34"]
)
def test_amounts_must_be_yuan_with_exactly_two_decimals(channel, sandbox, sink, amount):
    _, received = paid_notification(sandbox, channel, sink)
    with pytest.raises(NotificationError):
        parse(channel, resigned(sandbox, received["form"], total_amount=amount))


def test_large_amounts_convert_exactly(channel, sandbox, sink):
    _, received = paid_notification(sandbox, channel, sink)
    form = resigned(sandbox, received["form"], total_amount="99999999.99")
    assert parse(channel, form).amount_fen == 9999999999


def test_query_finds_no_trade_before_the_scan_then_pending_until_paid(channel, sandbox, sink):
    request, _ = charge(channel, sink)
    assert channel.query(request.out_trade_no).state == "not_found"  # ACQ.TRADE_NOT_EXIST until scanned
    control(sandbox, "scan", out_trade_no=request.out_trade_no)
    assert channel.query(request.out_trade_no).state == "pending"
    paid = control(sandbox, "pay", out_trade_no=request.out_trade_no)
    status = channel.query(request.out_trade_no)
    assert (status.state, status.transaction_id, status.amount_fen) == ("paid", paid["trade_no"], 1234)


def test_close_before_and_after_the_scan(channel, sandbox, sink):
    unscanned, _ = charge(channel, sink)
    channel.close(unscanned.out_trade_no)  # nothing to close yet, and the QR code stops working
    assert channel.query(unscanned.out_trade_no).state == "not_found"  # so the core can expire it
    response = requests.post(
        f"{sandbox.url}{CONTROL}/pay", json={"out_trade_no": unscanned.out_trade_no}, timeout=10
    )
    assert response.status_code == 400
    scanned, _ = charge(channel, sink)
    control(sandbox, "scan", out_trade_no=scanned.out_trade_no)
    channel.close(scanned.out_trade_no)
    assert channel.query(scanned.out_trade_no).state == "closed"
    with pytest.raises(ChannelError) as refused:
        channel.create_charge(scanned)
    assert refused.value.code == "ACQ.TRADE_HAS_CLOSE"
    paid, _ = charge(channel, sink)
    control(sandbox, "pay", out_trade_no=paid.out_trade_no)
    channel.close(paid.out_trade_no)  # the payment raced the close: the re-query tells
    assert channel.query(paid.out_trade_no).state == "paid"


def test_transient_failures_raise_channel_errors(channel, sandbox, sink):
    sandbox.clock_offset = 3600  # the gateway refuses requests stamped an hour off
    with pytest.raises(ChannelError) as skewed:
        charge(channel, sink)
    assert skewed.value.code == "isv.invalid-timestamp"
    sandbox.clock_offset = 0
    channel.client._gateway = "http://127.0.0.1:9/alipay/gateway.do"
    with pytest.raises(ChannelError) as unreachable:
        channel.query("AP" + secrets.token_hex(12))
    assert unreachable.value.code == "NETWORK"


def test_required_settings_are_declared(app):
    assert {"app_id", "seller_id", "app_private_key", "alipay_public_key"} <= required_settings(app, "alipay")


def test_a_system_error_is_a_channel_error_and_retrying_the_same_order_is_safe(channel, sandbox, sink):
    control(sandbox, "outage", calls=1)
    request = ChargeRequest(
        "AP" + secrets.token_hex(12), 800, "账户充值", sink.url, utcnow() + timedelta(hours=1)
    )
    with pytest.raises(ChannelError) as failed:
        channel.create_charge(request)
    assert failed.value.code == "isp.unknow-error"
    assert channel.create_charge(request).qr_payload == channel.create_charge(request).qr_payload


def test_secrets_can_come_from_the_environment(app, sandbox, sink, monkeypatch):
    from portal_alipay import AlipayChannel

    from portal.plugins import plugin_config

    settings = sandbox.plugin_settings()["alipay"]
    monkeypatch.setenv("ALIPAY_APP_PRIVATE_KEY", settings["app_private_key"])
    app.config["PLUGINS"]["alipay"] = {**settings, "app_private_key": {"$env": "ALIPAY_APP_PRIVATE_KEY"}}
    with app.app_context():
        from_environment = AlipayChannel(plugin_config("alipay"))
    assert charge(from_environment, sink)[1].qr_payload.startswith(sandbox.url)
