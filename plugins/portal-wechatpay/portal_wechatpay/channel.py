"""The WeChat Pay channel: Native orders (QR ``code_url``), notifications, query and close."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import requests

from portal.billing.channels import (
    Acknowledgement,
    ChannelError,
    Charge,
    ChargeRequest,
    NotificationError,
    PaymentNotice,
    PaymentStatus,
)

from .client import wechatpay_client

REQUIRED_SETTINGS = (
    "mchid",
    "appid",
    "merchant_serial_no",
    "private_key",
    "platform_public_key",
    "platform_public_key_id",
    "apiv3_key",
)
# A notification signed longer ago than this is a replay (WeChat Pay's own request window).
MAX_AGE_SECONDS = 300
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
SIGNED_HEADERS = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)
STATES = {
    "SUCCESS": "paid",
    "REFUND": "paid",
    "NOTPAY": "pending",
    "USERPAYING": "pending",
    "PAYERROR": "pending",
    "CLOSED": "closed",
    "REVOKED": "closed",
}
CHINA = timezone(timedelta(hours=8))


def _utc(rfc3339: str | None) -> datetime | None:
    if not rfc3339:
        return None
    return datetime.fromisoformat(rfc3339).astimezone(timezone.utc).replace(tzinfo=None)


class WeChatPayChannel:
    name = "wechatpay"
    label = {"zh_CN": "微信支付", "en": "WeChat Pay"}

    def __init__(self, settings: dict):
        self.settings = settings
        self.client = wechatpay_client(settings)

    def _call(self, method, **kwargs) -> tuple[int, dict]:
        try:
            status, text = method(**kwargs)
        except requests.RequestException as exc:
            raise ChannelError(f"WeChat Pay could not be reached: {exc}", "NETWORK") from exc
        except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exception on a badly signed answer
            raise ChannelError(f"WeChat Pay's answer failed verification: {exc}", "BAD_RESPONSE") from exc
        try:
            return status, (json.loads(text) if text else {})
        except ValueError as exc:
            raise ChannelError(f"WeChat Pay answered HTTP {status} without JSON", "BAD_RESPONSE") from exc

    @staticmethod
    def _refused(status: int, answer: dict) -> ChannelError:
        code = answer.get("code") or "SYSTEM_ERROR"
        return ChannelError(f"WeChat Pay refused (HTTP {status} {code}): {answer.get('message', '')}", code)

    def create_charge(self, request: ChargeRequest) -> Charge:
        expires = request.expires_at.replace(tzinfo=timezone.utc).astimezone(CHINA)
        status, answer = self._call(
            self.client.pay,
            description=request.description[:127],
            out_trade_no=request.out_trade_no,
            amount={"total": request.amount_fen, "currency": "CNY"},
            notify_url=request.notify_url,
            time_expire=expires.isoformat(timespec="seconds"),
        )
        if status != 200 or not answer.get("code_url"):
            raise self._refused(status, answer)
        return Charge(qr_payload=answer["code_url"])

    def parse_notification(self, headers, body: bytes, form) -> PaymentNotice:
        received = {key.lower(): value for key, value in dict(headers).items()}
        signed = {name: received.get(name.lower(), "") for name in SIGNED_HEADERS}
        if signed["Wechatpay-Signature"].startswith(SIGNTEST_PREFIX):
            raise NotificationError("signature probe (WECHATPAY/SIGNTEST/)")
        if signed["Wechatpay-Serial"] != self.settings["platform_public_key_id"]:
            # Checked before the SDK, which would fetch platform certificates for any other serial.
            raise NotificationError(f"unknown platform key {signed['Wechatpay-Serial']!r}")
        try:
            age = time.time() - int(signed["Wechatpay-Timestamp"])
        except ValueError as exc:
            raise NotificationError("missing or malformed Wechatpay-Timestamp") from exc
        if abs(age) > MAX_AGE_SECONDS:
            raise NotificationError(f"notification signed {int(age)} s away from now (replay or skew)")
        try:
            event = self.client.callback(signed, body)
        except Exception as exc:  # noqa: BLE001 - any SDK failure means the notification is not verified
            raise NotificationError(f"verification failed: {type(exc).__name__}: {exc}") from exc
        if not event:
            raise NotificationError("bad signature or undecryptable resource")
        return self._notice(event)

    def _notice(self, event: dict) -> PaymentNotice:
        paid = event.get("resource") or {}
        if event.get("event_type") != "TRANSACTION.SUCCESS" or paid.get("trade_state") != "SUCCESS":
            raise NotificationError(f"not a payment success: {event.get('event_type')}")
        if paid.get("mchid") != self.settings["mchid"] or paid.get("appid") != self.settings["appid"]:
            raise NotificationError(f"foreign merchant or app: {paid.get('mchid')}/{paid.get('appid')}")
        total = (paid.get("amount") or {}).get("total")
        if type(total) is not int or total <= 0:
            raise NotificationError(f"malformed amount: {total!r}")
        if not (isinstance(paid.get("out_trade_no"), str) and isinstance(paid.get("transaction_id"), str)):
            raise NotificationError("missing out_trade_no or transaction_id")
        try:
            paid_at = _utc(paid.get("success_time"))
        except (TypeError, ValueError) as exc:
            raise NotificationError("malformed success_time") from exc
        return PaymentNotice(paid["out_trade_no"], paid["transaction_id"], total, True, paid_at)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        if accepted:
            return Acknowledgement('{"code": "SUCCESS", "message": "OK"}', 200, "application/json")
        return Acknowledgement('{"code": "FAIL", "message": "rejected"}', 400, "application/json")

    def query(self, out_trade_no: str) -> PaymentStatus:
        status, answer = self._call(self.client.query, out_trade_no=out_trade_no)
        if status == 404 and answer.get("code") == "ORDER_NOT_EXIST":
            return PaymentStatus("not_found")
        if status != 200:
            raise self._refused(status, answer)
        if answer.get("out_trade_no") != out_trade_no or answer.get("mchid") != self.settings["mchid"]:
            raise ChannelError("WeChat Pay answered about another order", "BAD_RESPONSE")
        state = STATES.get(answer.get("trade_state"))
        if state is None:
            raise ChannelError(f"unknown trade_state {answer.get('trade_state')!r}", "BAD_RESPONSE")
        if state != "paid":
            return PaymentStatus(state)
        return PaymentStatus(
            "paid", answer.get("transaction_id"), answer["amount"]["total"], _utc(answer.get("success_time"))
        )

    def close(self, out_trade_no: str) -> None:
        status, answer = self._call(self.client.close, out_trade_no=out_trade_no)
        # A paid order cannot be closed: the caller's re-query reports the payment.
        if status != 204 and answer.get("code") != "ORDERPAID":
            raise self._refused(status, answer)
