"""Alipay (face-to-face precreate QR) as a Portal payment channel.

Settings (``PLUGINS["alipay"]``; secrets may be ``{"$env": "NAME"}``): ``app_id``, ``seller_id`` (the
merchant's 2088... partner id), ``app_private_key`` (PEM), ``alipay_public_key`` (PEM), and optionally
``gateway`` (default: the production gateway).
"""

from portal.plugins import hookimpl, plugin_config

from .channel import REQUIRED_SETTINGS, AlipayChannel

__all__ = ["AlipayChannel"]


@hookimpl
def portal_required_config():
    return list(REQUIRED_SETTINGS)


@hookimpl
def portal_payment_channels():
    return [AlipayChannel(plugin_config("alipay"))]
