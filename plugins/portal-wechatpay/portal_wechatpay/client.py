"""wechatpayv3, pointed at the configured gateway.

The SDK has no base-URL parameter: its gateway is the private ``_core._gate_way``. The version is
pinned in pyproject.toml and a test fails if an upgrade moves the attribute.
"""

from wechatpayv3 import WeChatPay, WeChatPayType

PRODUCTION_BASE_URL = "https://api.mch.weixin.qq.com"
# (connect, read) seconds: a slow gateway becomes a ChannelError, and the order can be retried.
TIMEOUT = (5, 15)


def wechatpay_client(settings: dict) -> WeChatPay:
    # Public-key mode: otherwise the constructor downloads platform certificates from production.
    client = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=settings["mchid"],
        private_key=settings["private_key"],
        cert_serial_no=settings["merchant_serial_no"],
        appid=settings["appid"],
        apiv3_key=settings["apiv3_key"],
        timeout=(TIMEOUT[0], float(settings.get("read_timeout_seconds") or TIMEOUT[1])),
        public_key=settings["platform_public_key"],
        public_key_id=settings["platform_public_key_id"],
    )
    if getattr(client._core, "_gate_way", None) != PRODUCTION_BASE_URL:
        raise RuntimeError("wechatpayv3 no longer keeps its gateway in _core._gate_way; update the adapter")
    client._core._gate_way = (settings.get("base_url") or PRODUCTION_BASE_URL).rstrip("/")
    return client
