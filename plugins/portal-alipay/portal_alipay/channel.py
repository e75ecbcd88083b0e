"""The Alipay channel: precreate (QR ``qr_code``), async notifications, query and close (refunds:
``refunds``)."""

from __future__ import annotations

import http.client
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import cached_property
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
from .refunds import RefundsMixin

# A notification sent longer ago than this is a replay.
MAX_AGE_SECONDS = 300
# Alipay writes amounts as yuan with exactly two decimals.
YUAN = re.compile(r"(0|[1-9][0-9]{0,8})\.[0-9]{2}")
# The documented trade states; only the first two are payments.
PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
NOT_PAID = ("WAIT_BUYER_PAY", "TRADE_CLOSED")
# The fields of an asynchronous trade notification, each with the longest value accepted. Anything
# else (an unknown or repeated key, a longer value) makes the notification invalid.
NOTIFICATION_FIELDS = {
    "notify_time": 19, "notify_type": 32, "notify_id": 128, "charset": 16, "version": 8,
    "sign_type": 8, "sign": 1024, "app_id": 32, "auth_app_id": 32, "trade_no": 64,
    "out_trade_no": 64, "out_biz_no": 64, "buyer_id": 32, "buyer_open_id": 128,
    "buyer_logon_id": 100, "seller_id": 32, "seller_email": 100, "trade_status": 32,
    "total_amount": 16, "receipt_amount": 16, "invoice_amount": 16, "buyer_pay_amount": 16,
    "point_amount": 16, "refund_fee": 16, "subject": 256, "body": 400, "gmt_create": 19,
    "gmt_payment": 19, "gmt_refund": 32, "gmt_close": 19, "fund_bill_list": 2048,
    "voucher_detail_list": 4096, "passback_params": 512,
}
# The signed string joins fields as k=v&k=v: a value holding either separator could pass for
# other fields, so none may (``sign`` is not part of the string; base64 ends in '=').
SEPARATORS = ("&", "=")
# The SDK's base64 decoder skips what is not base64 and stops at padding: give it nothing else.
SIGNATURE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
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


def _documented_fields(body: bytes) -> dict[str, str]:
    """The notification's form fields, each documented, sent once and of a sane length, or
    NotificationError. Cheap: it runs before any signature work."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True,
                          errors="strict", max_num_fields=len(NOTIFICATION_FIELDS))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotificationError(f"not a form of documented fields: {str(exc)[:100]}") from exc
    fields: dict[str, str] = {}
    for key, value in pairs:
        limit = NOTIFICATION_FIELDS.get(key)
        if limit is None:
            raise NotificationError(f"undocumented field {key[:64]!r}")
        if key in fields:
            raise NotificationError(f"repeated field {key!r}")
        if len(value) > limit:
            raise NotificationError(f"{key} longer than {limit} characters")
        if key == "sign":
            if not SIGNATURE.fullmatch(value):
                raise NotificationError("sign is not base64")
        elif any(separator in value for separator in SEPARATORS):
            raise NotificationError(f"{key} contains a separator of the signed string")
        fields[key] = value
    return fields


class AlipayChannel(RefundsMixin):
    name = "alipay"
    label = {"zh_CN": "支付宝", "en": "Alipay"}

    def __init__(self, settings: dict):
        self.settings = settings

    @cached_property
    def client(self):
        # Built on first use: parsing the keys takes most of a second, and the portal builds every
        # channel at startup (to refuse two plugins offering one channel name).
        return alipay_client(settings=self.settings)

    def _call(self, method, **kwargs) -> dict:
        try:
            return method(**kwargs)
        except AliPayValidationError as exc:
            raise ChannelError("Alipay's answer failed signature verification", "BAD_RESPONSE") from exc
        except AliPayException as exc:  # unsigned error answers; the raw body is the only detail given
            raise ChannelError(f"Alipay refused: {exc}", self._code(exc)) from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:  # network, timeouts, not JSON
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
            # Alipay signs the subject into its notification: it must not hold a separator.
            subject=re.sub("[&=]", " ", request.description)[:256],
            out_trade_no=request.out_trade_no,
            total_amount=_yuan(request.amount_fen),
            notify_url=request.notify_url,
            time_expire=expires.strftime("%Y-%m-%d %H:%M:%S"),
        )
        if answer.get("code") != "10000" or not answer.get("qr_code"):
            raise self._refused(answer)
        return Charge(qr_payload=answer["qr_code"])

    def parse_notification(self, headers, body: bytes) -> PaymentNotice:
        fields = _documented_fields(body)
        signature = fields.pop("sign", None)
        if not signature:
            raise NotificationError("unsigned notification")
        if fields.pop("sign_type", None) != "RSA2":
            raise NotificationError("sign_type is not RSA2")
        # Exactly what was sent, less sign and sign_type; empty values are not signed (Alipay's rule).
        signed = {key: value for key, value in fields.items() if value != ""}
        try:
            verified = self.client.verify(signed, signature)
        except Exception as exc:  # noqa: BLE001 - any SDK failure means the notification is not verified
            raise NotificationError(f"verification failed: {type(exc).__name__}: {exc}") from exc
        if not verified:
            raise NotificationError("bad signature")
        if fields.get("charset", "utf-8").lower() != "utf-8":
            raise NotificationError(f"charset {fields.get('charset')!r} is not utf-8")
        if (
            fields.get("app_id") != self.settings["app_id"]
            or fields.get("seller_id") != self.settings["seller_id"]
        ):
            raise NotificationError(
                f"foreign app or seller: {fields.get('app_id')}/{fields.get('seller_id')}"
            )
        status = fields.get("trade_status")
        if status not in PAID + NOT_PAID:
            raise NotificationError(f"undocumented trade_status {status!r}")
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
        paid = status in PAID
        return PaymentNotice(fields["out_trade_no"], fields["trade_no"], amount, paid, paid_at if paid else None)

    def acknowledge(self, accepted: bool, failure: bool = False) -> Acknowledgement:
        # Anything but the literal "success" makes Alipay send it again later.
        if failure:
            return Acknowledgement("fail", 500)
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
