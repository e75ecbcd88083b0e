"""WeChat Pay (API v3, Native QR) as a Portal payment channel.

Settings (``PLUGINS["wechatpay"]``; secrets may be ``{"$env": "NAME"}``): ``mchid``, ``appid``,
``merchant_serial_no``, ``private_key`` (the merchant's PEM), ``platform_public_key`` and
``platform_public_key_id`` (public-key mode, ``PUB_KEY_ID_...``), ``apiv3_key``, and optionally
``base_url`` (default: the production gateway).
"""

from portal.plugins import hookimpl, plugin_config

from .channel import REQUIRED_SETTINGS, WeChatPayChannel

__all__ = ["WeChatPayChannel"]


@hookimpl
def portal_required_config():
    return list(REQUIRED_SETTINGS)


@hookimpl
def portal_payment_channels():
    return [WeChatPayChannel(plugin_config("wechatpay"))]
