"""The WeChat Pay channel: Native orders (QR ``code_url``), notifications, query and close (refunds:
``refunds``)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from functools import cached_property
from urllib.parse import parse_qs, quote, urlsplit

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

from . import notification as documented
from .client import wechatpay_client
from .refunds import RefundsMixin

# A notification signed longer ago than this is a replay (WeChat Pay's own request window).
MAX_AGE_SECONDS = 300
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
# What a query's trade_state means for the core: only SUCCESS is a payment. REFUND was paid and
# the money went back; it can never be paid again and is never credited.
STATES = {
    "SUCCESS": "paid",
    "REFUND": "refunded",
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


class WeChatPayChannel(RefundsMixin):
    name = "wechatpay"
    label = {"zh_CN": "微信支付", "en": "WeChat Pay"}

    def __init__(self, settings: dict):
        self.settings = settings

    @cached_property
    def client(self):
        # Built on first use: parsing the keys takes most of a second, and the portal builds every
        # channel at startup (to refuse two plugins offering one channel name).
        return wechatpay_client(settings=self.settings)

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

    def payer_url(self, qr_payload: str) -> str | None:
        """Where a payer who cannot scan the QR code pays: the ``payer_help_url`` setting with
        ``{pr}`` replaced by the token of the ``code_url`` (weixin://wxpay/bizpayurl?pr=...), or None."""
        template = self.settings.get("payer_help_url")
        if not template:
            return None
        token = parse_qs(urlsplit(qr_payload).query).get("pr", [""])[0]
        return template.replace("{pr}", quote(token, safe=""))

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

    def parse_notification(self, headers, body: bytes) -> PaymentNotice:
        paid = self._verified_resource(headers, body, ("TRANSACTION.SUCCESS",), "transaction",
                                       documented.TRANSACTION)
        return self._notice(paid)

    def _verified_resource(self, headers, body: bytes, event_types, original_type: str, schema: dict) -> dict:
        """The decrypted resource of a signed, fresh notification of one of ``event_types``, or
        NotificationError. Cheap checks first; the SDK's signature and decryption last."""
        try:
            signed = documented.signed_headers(headers)
        except ValueError as exc:
            raise NotificationError(str(exc)) from exc
        if signed["Wechatpay-Signature"].startswith(SIGNTEST_PREFIX):
            raise NotificationError("signature probe (WECHATPAY/SIGNTEST/)")
        if signed["Wechatpay-Serial"] != self.settings["platform_public_key_id"]:
            # Checked before the SDK, which would fetch platform certificates for any other serial.
            raise NotificationError(f"unknown platform key {signed['Wechatpay-Serial']!r}")
        age = time.time() - int(signed["Wechatpay-Timestamp"])
        if abs(age) > MAX_AGE_SECONDS:
            raise NotificationError(f"notification signed {int(age)} s away from now (replay or skew)")
        try:
            envelope = documented.check(documented.strict_json(body), documented.ENVELOPE)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise NotificationError(f"not a documented notification: {exc}") from exc
        resource = envelope.get("resource") or {}
        if (envelope.get("event_type") not in event_types
                or (envelope.get("resource_type"), resource.get("original_type"))
                != ("encrypt-resource", original_type)):
            raise NotificationError(f"not a {original_type} notification: {envelope.get('event_type')!r}")
        try:
            plaintext = self.client.decrypt_callback(signed, body)
        except Exception as exc:  # noqa: BLE001 - any SDK failure means the notification is not verified
            raise NotificationError(f"verification failed: {type(exc).__name__}: {exc}") from exc
        if not plaintext:
            raise NotificationError("bad signature or undecryptable resource")
        try:
            return documented.check(documented.strict_json(plaintext), schema, original_type)
        except (ValueError, RecursionError) as exc:
            raise NotificationError(f"not a documented {original_type}: {exc}") from exc

    def _notice(self, paid: dict) -> PaymentNotice:
        if paid.get("mchid") != self.settings["mchid"] or paid.get("appid") != self.settings["appid"]:
            raise NotificationError(f"foreign merchant or app: {paid.get('mchid')}/{paid.get('appid')}")
        state = paid.get("trade_state")
        if state not in documented.TRADE_STATES:
            raise NotificationError(f"undocumented trade_state {state!r}")
        out_trade_no = paid.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not documented.OUT_TRADE_NO.fullmatch(out_trade_no):
            raise NotificationError("missing or malformed out_trade_no")
        total = (paid.get("amount") or {}).get("total")
        if type(total) is not int or total <= 0:
            raise NotificationError(f"malformed amount: {total!r}")
        if state != "SUCCESS":
            # Signed and ours, but not a payment (e.g. REFUND): recorded, acknowledged, never credited.
            return PaymentNotice(out_trade_no, "", total, False)
        transaction_id = paid.get("transaction_id")
        if not isinstance(transaction_id, str) or not documented.TRANSACTION_ID.fullmatch(transaction_id):
            raise NotificationError("missing or malformed transaction_id")
        try:
            paid_at = _utc(paid.get("success_time"))
        except (TypeError, ValueError) as exc:
            raise NotificationError("malformed success_time") from exc
        return PaymentNotice(out_trade_no, transaction_id, total, True, paid_at)

    def acknowledge(self, accepted: bool, failure: bool = False) -> Acknowledgement:
        if accepted:
            return Acknowledgement('{"code": "SUCCESS", "message": "OK"}', 200, "application/json")
        if failure:
            return Acknowledgement('{"code": "FAIL", "message": "temporarily unavailable"}', 500,
                                   "application/json")
        return Acknowledgement('{"code": "FAIL", "message": "rejected"}', 400, "application/json")

    def query(self, out_trade_no: str) -> PaymentStatus:
        status, answer = self._call(self.client.query, out_trade_no=out_trade_no)
        if status == 404 and answer.get("code") == "ORDER_NOT_EXIST":
            return PaymentStatus("not_found")
        if status != 200:
            raise self._refused(status, answer)
        if (answer.get("out_trade_no"), answer.get("mchid"), answer.get("appid")) != (
            out_trade_no, self.settings["mchid"], self.settings["appid"]
        ):
            raise ChannelError("WeChat Pay answered about another order", "BAD_RESPONSE")
        state = STATES.get(answer.get("trade_state"))
        if state is None:
            raise ChannelError(f"unknown trade_state {answer.get('trade_state')!r}", "BAD_RESPONSE")
        if state != "paid":
            return PaymentStatus(state)
        total = (answer.get("amount") or {}).get("total")
        transaction_id = answer.get("transaction_id")
        if type(total) is not int or not isinstance(transaction_id, str) or not transaction_id:
            raise ChannelError("a paid order without its amount or transaction id", "BAD_RESPONSE")
        try:
            paid_at = _utc(answer.get("success_time"))
        except (TypeError, ValueError) as exc:
            raise ChannelError("malformed success_time", "BAD_RESPONSE") from exc
        return PaymentStatus("paid", transaction_id, total, paid_at)

    def close(self, out_trade_no: str) -> None:
        status, answer = self._call(self.client.close, out_trade_no=out_trade_no)
        # A paid order cannot be closed: the caller's re-query reports the payment.
        if status != 204 and answer.get("code") != "ORDERPAID":
            raise self._refused(status, answer)
