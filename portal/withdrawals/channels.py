"""What a payout channel (Alipay transfers; a third party's WeChat Pay 商家转账 or bank) implements,
and the registry of those the plugins offer through ``portal_payout_channels``."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app


class PayoutError(Exception):
    """The channel's answer is unknown (network, timeout, a system error): ask again later with the
    same out_biz_no. ``code`` is the channel's error code or NETWORK."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class TransferRefused(Exception):
    """The channel definitely did not and will not pay (a signed business failure)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class BindingError(Exception):
    """Binding failed: a bad or replayed authorization code, a refused call. ``code`` for logs."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TransferRequest:
    """The same every time for one withdrawal: resending it never pays twice."""

    out_biz_no: str
    amount_fen: int
    payee: str
    payee_type: str
    title: str


@dataclass(frozen=True)
class TransferResult:
    # "succeeded", "failed", "processing" or "not_found" (the channel never received it).
    state: str
    order_id: str | None = None
    channel_status: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class BoundAccount:
    """Who the person proved to be at the channel."""

    subject: str
    subject_type: str
    masked: str
    nickname: str | None = None
    channel_user_id: str | None = None


class PayoutChannel:
    """Base class; ``name`` is unique among channels, ``label`` a dict of locale -> text."""

    name: str = ""
    label: dict = {}

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        """Where the browser goes to prove who it is at the channel; it returns to ``redirect_uri``
        with ``state``."""
        raise NotImplementedError

    def bind(self, callback_args: dict) -> BoundAccount:
        """The account the authorization callback's arguments prove; BindingError otherwise."""
        raise NotImplementedError

    def transfer(self, request: TransferRequest) -> TransferResult:
        """Pay; TransferRefused when definitely not paid, PayoutError when unknown."""
        raise NotImplementedError

    def query_transfer(self, request: TransferRequest) -> TransferResult:
        """What became of ``request.out_biz_no``; PayoutError when the channel cannot say."""
        raise NotImplementedError


def payout_channels(app=None) -> dict[str, PayoutChannel]:
    """The enabled payout channels by name (hook ``portal_payout_channels``), built once per app."""
    from portal.plugins import PluginError, hook

    app = app or current_app._get_current_object()
    found = app.extensions.get("portal.payout_channels")
    if found is None:
        found = {}
        for offered in hook(app).portal_payout_channels():
            for channel in offered or ():
                if not channel.name or channel.name in found:
                    raise PluginError(f"payout channel name {channel.name!r} is empty or offered twice: "
                                      "disable one of the plugins offering it (PLUGINS_DISABLED)")
                found[channel.name] = channel
        app.extensions["portal.payout_channels"] = found
    return found


def label(channel: PayoutChannel, locale: str) -> str:
    return channel.label.get(locale) or channel.label.get("en") or channel.name
