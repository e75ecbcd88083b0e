"""The Alipay channel: precreate (QR ``qr_code``), async notifications, query and close."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl

from alipay.exceptions import AliPayException, AliPayValidationError

from portal.billing.channels import (
    Acknowledgement,
    ChannelError,
    Charge,
    ChargeRequest,
    NotificationError,
    PaymentNotice,
    PaymentStatus,
)

from .client import CHINA, alipay_client

REQUIRED_SETTINGS = ("app_id", "seller_id", "app_private_key", "alipay_public_key")
# A notification sent longer ago than this is a replay.
MAX_AGE_SECONDS = 300
# Alipay writes amounts as yuan with exactly two decimals.
YUAN = re.compile(r"(0|[1-9][0-9]{0,8})\.[0-9]{2}")
PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
STATES = {
    "WAIT_BUYER_PAY": "pending",
    "TRADE_CLOSED": "closed",
    "TRADE_SUCCESS": "paid",
    "TRADE_FINISHED": "paid",
}


def _fen(yuan: object) -> int:
    if not isinstance(yuan, str) or not YUAN.fullmatch(yuan):
        raise ValueError(f"malformed amount {yuan!r}")
    return int(Decimal(yuan) * 100)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _utc(china_time: str | None) -> datetime | None:
    if not china_time:
        return None
    moment = datetime.strptime(china_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class AlipayChannel:
    name = "alipay"
    label = {"zh_CN": "支付宝", "en": "Alipay"}

    def __init__(self, settings: dict):
        self.settings = settings
        self.client = alipay_client(settings)

    def _call(self, method, **kwargs) -> dict:
        try:
            return method(**kwargs)
        except AliPayValidationError as exc:
            raise ChannelError("Alipay's answer failed signature verification", "BAD_RESPONSE") from exc
        except AliPayException as exc:  # unsigned error answers; the raw body is the only detail given
            raise ChannelError(f"Alipay refused: {exc}", self._code(exc)) from exc
        except (OSError, ValueError) as exc:  # network errors, timeouts, bodies that are not JSON
            raise ChannelError(f"Alipay could not be reached: {exc}", "NETWORK") from exc

    @staticmethod
    def _code(exc: AliPayException) -> str:
        try:
            body = json.loads(exc._AliPayException__message)
            inner = next(value for key, value in body.items() if key.endswith("_response"))
            return inner.get("sub_code") or inner.get("code") or "UNKNOWN"
        except (AttributeError, TypeError, ValueError, StopIteration):
            return "UNKNOWN"

    @staticmethod
    def _refused(answer: dict) -> ChannelError:
        code = answer.get("sub_code") or answer.get("code") or "UNKNOWN"
        return ChannelError(
            f"Alipay refused ({code}): {answer.get('sub_msg') or answer.get('msg', '')}", code
        )

    def create_charge(self, request: ChargeRequest) -> Charge:
        expires = request.expires_at.replace(tzinfo=timezone.utc).astimezone(CHINA)
        answer = self._call(
            self.client.api_alipay_trade_precreate,
            subject=request.description[:256],
            out_trade_no=request.out_trade_no,
            total_amount=_yuan(request.amount_fen),
            notify_url=request.notify_url,
            time_expire=expires.strftime("%Y-%m-%d %H:%M:%S"),
        )
        if answer.get("code") != "10000" or not answer.get("qr_code"):
            raise self._refused(answer)
        return Charge(qr_payload=answer["qr_code"])

    def parse_notification(self, headers, body: bytes, form) -> PaymentNotice:
        fields = dict(form.items()) if form else dict(parse_qsl(body.decode("utf-8", "replace")))
        signature = fields.pop("sign", None)
        if not signature:
            raise NotificationError("unsigned notification")
        try:
            verified = self.client.verify(fields, signature)  # pops sign_type, refuses anything but RSA2
        except Exception as exc:  # noqa: BLE001 - any SDK failure means the notification is not verified
            raise NotificationError(f"verification failed: {type(exc).__name__}: {exc}") from exc
        if not verified:
            raise NotificationError("bad signature")
        if (
            fields.get("app_id") != self.settings["app_id"]
            or fields.get("seller_id") != self.settings["seller_id"]
        ):
            raise NotificationError(
                f"foreign app or seller: {fields.get('app_id')}/{fields.get('seller_id')}"
            )
        if fields.get("trade_status") not in PAID:
            raise NotificationError(f"not a payment success: {fields.get('trade_status')}")
        try:
            sent_at, paid_at = _utc(fields.get("notify_time")), _utc(fields.get("gmt_payment"))
            amount = _fen(fields.get("total_amount"))
        except ValueError as exc:
            raise NotificationError(str(exc)) from exc
        if sent_at is None or abs(datetime.now(timezone.utc).replace(tzinfo=None) - sent_at) > timedelta(
            seconds=MAX_AGE_SECONDS
        ):
            raise NotificationError(f"notify_time {fields.get('notify_time')!r} is too far from now (replay)")
        if amount <= 0 or not fields.get("out_trade_no") or not fields.get("trade_no"):
            raise NotificationError("missing out_trade_no, trade_no or amount")
        return PaymentNotice(fields["out_trade_no"], fields["trade_no"], amount, True, paid_at)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement("success" if accepted else "fail")

    def query(self, out_trade_no: str) -> PaymentStatus:
        answer = self._call(self.client.api_alipay_trade_query, out_trade_no=out_trade_no)
        if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            # A precreated trade exists only once the buyer scans: until then nothing can have been
            # paid, and after close() (or time_expire) the QR code can no longer be paid either.
            return PaymentStatus("not_found")
        if answer.get("code") != "10000":
            raise self._refused(answer)
        state = STATES.get(answer.get("trade_status"))
        if state is None or answer.get("out_trade_no") != out_trade_no:
            raise ChannelError(f"unexpected answer about {answer.get('out_trade_no')!r}", "BAD_RESPONSE")
        if state != "paid":
            return PaymentStatus(state)
        try:
            return PaymentStatus(
                "paid",
                answer.get("trade_no"),
                _fen(answer.get("total_amount")),
                _utc(answer.get("send_pay_date")),
            )
        except ValueError as exc:
            raise ChannelError(str(exc), "BAD_RESPONSE") from exc

    def close(self, out_trade_no: str) -> None:
        answer = self._call(self.client.api_alipay_trade_close, out_trade_no=out_trade_no)
        # Never scanned (its QR code is now void) or already paid: the caller's re-query tells.
        if answer.get("code") != "10000" and answer.get("sub_code") not in (
            "ACQ.TRADE_NOT_EXIST",
            "ACQ.TRADE_STATUS_ERROR",
        ):
            raise self._refused(answer)
