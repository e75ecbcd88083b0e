"""Alipay (face-to-face precreate QR) as a Portal payment channel.

Settings (``PLUGINS["alipay"]``; secrets may be ``{"$env": "NAME"}``): ``app_id``, ``seller_id`` (the
merchant's 2088... partner id), ``app_private_key`` (PEM), ``alipay_public_key`` (PEM), and optionally
``gateway`` (default: the production gateway) and ``timeout_seconds`` (default 15).
"""

from portal.plugins import Setting, hookimpl, plugin_config

from .channel import AlipayChannel

__all__ = ["AlipayChannel"]


@hookimpl
def portal_settings():
    return {
        "app_id": Setting("str", required=True),
        "seller_id": Setting("str", required=True),
        "app_private_key": Setting("secret", required=True),
        "alipay_public_key": Setting("str", required=True),
        "gateway": Setting("url"),
        "timeout_seconds": Setting("float"),
    }


@hookimpl
def portal_payment_channels():
    return [AlipayChannel(plugin_config("alipay"))]
