"""python-alipay-sdk, pointed at the configured gateway: the Alipay client every Alipay plugin shares
(payments, identity verification, transfers).

Two ways to hold Alipay's keys, chosen by the settings:
- public-key mode: ``alipay_public_key`` (PEM);
- certificate mode (公钥证书), which Alipay requires for fund transfers and which an app switched to
  it must use for every call: ``app_cert`` (the app's public key certificate), ``alipay_cert``
  (Alipay's public key certificate, whose key verifies answers) and ``alipay_root_cert`` (Alipay's
  root chain). Every request then carries ``app_cert_sn`` and ``alipay_root_cert_sn``, and an answer
  is accepted only when its ``alipay_cert_sn`` names the configured Alipay certificate.

The SDK has no gateway parameter: it keeps the URL in the private ``_gateway``. The version is pinned
in pyproject.toml and a test fails if an upgrade moves the attribute.
"""

import json
from datetime import datetime, timedelta, timezone
from urllib.request import Request, urlopen

from alipay import AliPay, DCAliPay
from alipay.exceptions import AliPayValidationError
from alipay.utils import AliPayConfig

PRODUCTION_GATEWAY = "https://openapi.alipay.com/gateway.do"
CHINA = timezone(timedelta(hours=8))
TIMEOUT_SECONDS = 15
CERTIFICATE_SETTINGS = ("app_cert", "alipay_cert", "alipay_root_cert")


class ChinaTime:
    """The gateway reads ``timestamp`` as GMT+8; the SDK writes the host's local time, so fix it.

    Calls are POSTed as a form rather than sent as a URL (the SDK's way): identity verification
    sends a name and an ID number, and URLs end up in proxies' and servers' logs."""

    def build_body(self, *args, **kwargs):
        data = super().build_body(*args, **kwargs)
        data["timestamp"] = datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        return data

    def verified_sync_response(self, data, response_type):
        request = Request(self._gateway, data=self.sign_data(data).encode("ascii"), method="POST",
                          headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
        with urlopen(request, timeout=self._config.timeout) as answer:
            raw_string = answer.read().decode()
        return self._verify_and_return_sync_response(raw_string, response_type)


class ChinaTimeAliPay(ChinaTime, AliPay):
    pass


class CertificateAliPay(ChinaTime, DCAliPay):
    """Certificate mode; answers must name the configured Alipay certificate."""

    @property
    def alipay_cert_sn(self) -> str:
        return self.get_cert_sn(self._alipay_public_key_cert_string)

    def _verify_and_return_sync_response(self, raw_string, response_type):
        result = super()._verify_and_return_sync_response(raw_string, response_type)
        # Only signed answers reach here (the SDK raises on the others first).
        if json.loads(raw_string).get("alipay_cert_sn") != self.alipay_cert_sn:
            raise AliPayValidationError
        return result


def is_certificate_mode(settings: dict) -> bool:
    return any(settings.get(key) for key in CERTIFICATE_SETTINGS)


def key_problem(settings: dict) -> str | None:
    """What is missing for either mode, or None."""
    if is_certificate_mode(settings):
        missing = [key for key in CERTIFICATE_SETTINGS if not settings.get(key)]
        return f"certificate mode needs {', '.join(missing)}" if missing else None
    if not settings.get("alipay_public_key"):
        return "set alipay_public_key, or app_cert, alipay_cert and alipay_root_cert (certificate mode)"
    return None


def _timeout(settings: dict) -> float:
    return float(settings.get("timeout_seconds") or TIMEOUT_SECONDS)


def alipay_client(settings: dict) -> AliPay:
    problem = key_problem(settings)
    if problem:
        raise ValueError(f"Alipay settings: {problem}")
    if is_certificate_mode(settings):
        client = CertificateAliPay(
            appid=settings["app_id"],
            app_private_key_string=settings["app_private_key"],
            app_public_key_cert_string=settings["app_cert"],
            alipay_public_key_cert_string=settings["alipay_cert"],
            alipay_root_cert_string=settings["alipay_root_cert"],
            sign_type="RSA2",
        )
        client._config = AliPayConfig(timeout=_timeout(settings))  # DCAliPay takes no config argument
    else:
        client = ChinaTimeAliPay(
            appid=settings["app_id"],
            app_private_key_string=settings["app_private_key"],
            alipay_public_key_string=settings["alipay_public_key"],
            sign_type="RSA2",
            config=AliPayConfig(timeout=_timeout(settings)),
        )
    if getattr(client, "_gateway", None) != PRODUCTION_GATEWAY:
        raise RuntimeError("python-alipay-sdk no longer keeps its gateway in _gateway; update the adapter")
    client._gateway = settings.get("gateway") or PRODUCTION_GATEWAY
    return client
