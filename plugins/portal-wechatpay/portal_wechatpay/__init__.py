"""WeChat Pay (API v3, Native QR) as a Portal payment channel.

Settings (``PLUGINS["wechatpay"]``; secrets may be ``{"$env": "NAME"}``): ``mchid``, ``appid``,
``merchant_serial_no``, ``private_key`` (the merchant's PEM), ``platform_public_key`` and
``platform_public_key_id`` (public-key mode, ``PUB_KEY_ID_...``), ``apiv3_key``, and optionally
``base_url`` (default: the production gateway), ``read_timeout_seconds`` (default 15) and
``payer_help_url`` (a page where a payer who cannot scan pays the order, ``{pr}`` standing for the
order's token; a sandbox has one, WeChat Pay itself none).
"""

from portal.plugins import Setting, hookimpl, plugin_config

from .channel import WeChatPayChannel

__all__ = ["WeChatPayChannel"]


@hookimpl
def portal_settings():
    return {
        "mchid": Setting("str", required=True),
        "appid": Setting("str", required=True),
        "merchant_serial_no": Setting("str", required=True),
        "private_key": Setting("secret", required=True),
        "platform_public_key": Setting("str", required=True),
        "platform_public_key_id": Setting("str", required=True),
        "apiv3_key": Setting("secret", required=True),
        "base_url": Setting("url"),
        "read_timeout_seconds": Setting("float"),
        "payer_help_url": Setting("url"),
    }


@hookimpl
def portal_payment_channels():
    return [WeChatPayChannel(plugin_config("wechatpay"))]
