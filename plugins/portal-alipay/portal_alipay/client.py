"""python-alipay-sdk, pointed at the configured gateway.

The SDK has no gateway parameter: it keeps the URL in the private ``_gateway``. The version is pinned
in pyproject.toml and a test fails if an upgrade moves the attribute.
"""

from datetime import datetime, timedelta, timezone

from alipay import AliPay
from alipay.utils import AliPayConfig

PRODUCTION_GATEWAY = "https://openapi.alipay.com/gateway.do"
CHINA = timezone(timedelta(hours=8))
TIMEOUT_SECONDS = 15


class ChinaTimeAliPay(AliPay):
    """The gateway reads ``timestamp`` as GMT+8; the SDK writes the host's local time, so fix it."""

    def build_body(self, *args, **kwargs):
        data = super().build_body(*args, **kwargs)
        data["timestamp"] = datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        return data


def alipay_client(settings: dict) -> AliPay:
    client = ChinaTimeAliPay(
        appid=settings["app_id"],
        app_private_key_string=settings["app_private_key"],
        alipay_public_key_string=settings["alipay_public_key"],
        sign_type="RSA2",
        config=AliPayConfig(timeout=TIMEOUT_SECONDS),
    )
    if getattr(client, "_gateway", None) != PRODUCTION_GATEWAY:
        raise RuntimeError("python-alipay-sdk no longer keeps its gateway in _gateway; update the adapter")
    client._gateway = settings.get("gateway") or PRODUCTION_GATEWAY
    return client
