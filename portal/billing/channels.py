"""The contract between the core and a payment channel plugin.

A channel creates charges (the core renders the QR code from ``Charge.qr_payload``), turns the
provider's notification into a ``PaymentNotice`` (raising ``NotificationError`` on anything it
cannot verify), and queries and closes orders for reconciliation. It never touches balances or
order states: the core does, through ``portal.billing.orders``.
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
    """A verified statement from the channel: order ``out_trade_no`` was paid ``amount_fen``."""

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    paid: bool
    paid_at: datetime | None = None


@dataclass(frozen=True)
class PaymentStatus:
    # "paid", "pending" (not paid yet, including "not scanned"), "closed" or "not_found".
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


class PaymentChannel(Protocol):
    name: str
    label: object  # str or {locale: str}

    def create_charge(self, request: ChargeRequest) -> Charge: ...

    def parse_notification(self, headers: dict, body: bytes, form: dict) -> PaymentNotice: ...

    def acknowledge(self, accepted: bool) -> Acknowledgement: ...

    def query(self, out_trade_no: str) -> PaymentStatus: ...

    def close(self, out_trade_no: str) -> None: ...


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
                found.setdefault(channel.name, channel)
        app.extensions["portal.billing.channels"] = found
    return found
