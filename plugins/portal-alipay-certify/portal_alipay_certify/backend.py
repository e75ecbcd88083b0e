"""The Alipay identity verification backend: initialize, the certify page URL, query."""
from __future__ import annotations

import json
from datetime import timedelta

from alipay.exceptions import AliPayException, AliPayValidationError

from portal.realname.backends import BackendError, Outcome, RealnameBackend, Started
from portal_alipay.client import alipay_client

REQUIRED_SETTINGS = ("app_id", "app_private_key")
BIZ_CODES = ("FACE", "CERT_PHOTO", "CERT_PHOTO_FACE", "SMART_FACE")
INITIALIZE = "alipay.user.certify.open.initialize"
CERTIFY = "alipay.user.certify.open.certify"
QUERY = "alipay.user.certify.open.query"
# Alipay's answer about a certify_id it no longer knows (expired or never issued).
BILL_GONE = "OPEN_CERTIFY_BILL_NOT_EXIST"


class AlipayCertify(RealnameBackend):
    name = "alipay_certify"
    label = {"zh_CN": "支付宝", "en": "Alipay"}
    # A certify_id lives under 23 hours; past that the attempt is asked once more, then 已过期.
    lifetime = timedelta(hours=23)

    def __init__(self, settings: dict):
        self.settings = settings
        self._client = None

    @property
    def client(self):
        # Built on first use: listing backends (the tab, the CLI) needs no keys parsed.
        if self._client is None:
            self._client = alipay_client(self.settings)
        return self._client

    def _call(self, method: str, biz: dict) -> dict:
        try:
            return self.client.server_api(method, biz)
        except AliPayValidationError as exc:
            raise BackendError("Alipay's answer failed signature verification", "BAD_RESPONSE") from exc
        except AliPayException as exc:  # unsigned error answers
            raise BackendError("Alipay refused the call", _code(exc)) from exc
        except (OSError, ValueError) as exc:  # network errors, timeouts, bodies that are not JSON
            raise BackendError(f"Alipay could not be reached: {type(exc).__name__}", "NETWORK") from exc

    def start(self, attempt):
        answer = self._call(INITIALIZE, {
            "outer_order_no": attempt.outer_order_no,
            "biz_code": self.settings.get("biz_code") or "FACE",
            "identity_param": {"identity_type": "CERT_INFO", "cert_type": "IDENTITY_CARD",
                               "cert_name": attempt.name, "cert_no": attempt.cert_no},
            "merchant_config": {"return_url": attempt.return_url},
        })
        certify_id = answer.get("certify_id")
        if answer.get("code") != "10000" or not isinstance(certify_id, str) or not 0 < len(certify_id) <= 64:
            raise BackendError("Alipay refused to initialize", answer.get("sub_code") or answer.get("code") or "?")
        # A page jump: the signed gateway URL itself is what the person opens (as a QR code).
        query = self.client.client_api(CERTIFY, {"certify_id": certify_id})
        return Started(certify_id=certify_id, url=f"{self.client._gateway}?{query}")

    def query(self, attempt):
        answer = self._call(QUERY, {"certify_id": attempt.certify_id})
        if answer.get("sub_code") == BILL_GONE:
            # Expired at Alipay: nothing more will happen; the core expires it at its deadline.
            return Outcome.pending()
        if answer.get("code") != "10000":
            raise BackendError("Alipay could not answer", answer.get("sub_code") or answer.get("code") or "?")
        if answer.get("passed") == "T":
            return Outcome.passed()
        if answer.get("passed") != "F":
            raise BackendError("Alipay answered neither T nor F", "BAD_RESPONSE")
        # F is also "not finished yet"; only a stated reason makes it a failure.
        reason = answer.get("fail_reason")
        return Outcome.failed(str(reason)) if reason else Outcome.pending()


def _code(exc: AliPayException) -> str:
    try:
        body = json.loads(exc._AliPayException__message)
        inner = next(value for key, value in body.items() if key.endswith("_response"))
        return inner.get("sub_code") or inner.get("code") or "UNKNOWN"
    except (AttributeError, TypeError, ValueError, StopIteration):
        return "UNKNOWN"
