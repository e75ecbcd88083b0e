"""The contract between the core and a payment channel plugin.

A channel creates charges (the core renders the QR code from ``Charge.qr_payload``), turns the
provider's notification into a ``PaymentNotice`` (raising ``NotificationError`` on anything it
cannot verify), and queries and closes orders for reconciliation. It never touches balances or
order states: the core does, through ``portal.billing.orders``.

A notification is read from the raw body the channel sent, against the channel's documented
fields only: an unknown or repeated field, or a value that could pass for another field in the
signed string, makes it invalid. Cheap checks (sizes, shapes) come before any signature work.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class NotificationError(Exception):
    """A notification failed verification (signature, merchant, format); it must never credit."""


class ChannelError(Exception):
    """The channel refused a request or could not be reached; ``code`` is the provider's code."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ChargeRequest:
    out_trade_no: str
    amount_fen: int
    description: str
    notify_url: str
    # Naive UTC. The channel must stop accepting payment by then (<= the order's local expiry).
    expires_at: datetime


@dataclass(frozen=True)
class Charge:
    # What the QR code encodes (weixin://wxpay/bizpayurl?... or https://qr.alipay.com/...).
    qr_payload: str


@dataclass(frozen=True)
class PaymentNotice:
    """A verified statement from the channel about order ``out_trade_no``: ``paid`` only for the
    channel's documented success states (anything else is recorded and never credited)."""

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    paid: bool
    paid_at: datetime | None = None


@dataclass(frozen=True)
class PaymentStatus:
    # "paid" (a documented success state only), "pending" (not paid yet, including "not scanned"),
    # "closed", "refunded" (was paid, the money went back: never credited) or "not_found".
    state: str
    transaction_id: str | None = None
    amount_fen: int | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True)
class Acknowledgement:
    """What the channel expects in reply to a notification."""

    body: str
    status: int = 200
    content_type: str = "text/plain"


class RefundRefused(ChannelError):
    """The channel definitely refused a refund (it did not and will not happen): the core releases
    the debit. Any other ChannelError leaves the refund's outcome unknown until a query settles it."""


@dataclass(frozen=True)
class RefundRequest:
    """A refund of ``amount_fen`` out of the payment ``transaction_id`` (of ``total_fen``).
    ``out_refund_no`` is the idempotency key: asking again with it never refunds twice."""

    out_refund_no: str
    transaction_id: str
    amount_fen: int
    total_fen: int
    reason: str
    # Where the channel reports the outcome, for channels that notify (None: they answer at once).
    notify_url: str | None = None


@dataclass(frozen=True)
class RefundResult:
    # "succeeded" (the money went back), "processing" (accepted, not finished), "closed" (the
    # channel gave up: nothing was refunded), "abnormal" (stuck at the channel: an operator
    # finishes it there) or "not_found" (the channel never took this refund).
    state: str
    refund_id: str | None = None
    amount_fen: int | None = None
    # The channel's own word for the state, kept for operators.
    channel_status: str | None = None


@dataclass(frozen=True)
class RefundNotice:
    """A verified notification about refund ``out_refund_no``."""

    out_refund_no: str
    refund_id: str
    amount_fen: int
    # As RefundResult.state ("succeeded", "closed" or "abnormal").
    state: str
    channel_status: str


class PaymentChannel(Protocol):
    name: str
    label: object  # str or {locale: str}

    def create_charge(self, request: ChargeRequest) -> Charge: ...

    def parse_notification(self, headers: dict, body: bytes) -> PaymentNotice: ...

    # accepted: stop sending it; otherwise refused (failure=False) or not processed because the
    # portal failed (failure=True: the channel must retry; a 5xx where its protocol has statuses).
    def acknowledge(self, accepted: bool, failure: bool = False) -> Acknowledgement: ...

    def query(self, out_trade_no: str) -> PaymentStatus: ...

    def close(self, out_trade_no: str) -> None: ...

    # Optional: ``payer_url(qr_payload) -> str | None``, a page where a payer who cannot scan the
    # QR code pays (linked beside it); a payload that is itself an http(s) URL needs none.


class RefundingChannel(PaymentChannel, Protocol):
    """A channel that can give money back. ``refund`` raises RefundRefused on a definite refusal and
    ChannelError when the outcome is unknown (the core then asks ``query_refund`` later, with the
    same request). Channels that notify refunds also offer ``parse_refund_notification(headers,
    body) -> RefundNotice`` (raising NotificationError)."""

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def query_refund(self, request: RefundRequest) -> RefundResult: ...


def payment_channels(app=None) -> dict[str, PaymentChannel]:
    """The channels every enabled plugin offers (hook ``portal_payment_channels``), by name.

    Asked once per app: channels hold SDK clients and keys, which are costly to build per request."""
    from flask import current_app

    from portal.plugins import hook

    app = app or current_app._get_current_object()
    found = app.extensions.get("portal.billing.channels")
    if found is None:
        found = {}
        for channels in hook(app).portal_payment_channels():
            for channel in channels or ():
                if not channel.name or channel.name in found:
                    from portal.plugins import PluginError

                    raise PluginError(f"payment channel name {channel.name!r} is empty or offered twice: "
                                      "disable one of the plugins offering it (PLUGINS_DISABLED)")
                found[channel.name] = channel
        app.extensions["portal.billing.channels"] = found
    return found
