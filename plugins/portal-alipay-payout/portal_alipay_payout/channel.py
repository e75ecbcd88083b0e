"""The Alipay payout channel: binding by web authorization, transfers and their query."""
from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlencode

from alipay.exceptions import AliPayException, AliPayValidationError

from portal.withdrawals.channels import (
    BindingError,
    BoundAccount,
    PayoutChannel,
    PayoutError,
    TransferRefused,
    TransferResult,
)
from portal_alipay.client import alipay_client

REQUIRED_SETTINGS = ("app_id", "app_private_key")
AUTHORIZE_URL = "https://openauth.alipay.com/oauth2/publicAppAuthorize.htm"
TRANSFER = "alipay.fund.trans.uni.transfer"
QUERY = "alipay.fund.trans.common.query"
TOKEN = "alipay.system.oauth.token"
USER_INFO = "alipay.user.info.share"
PRODUCT_CODE, BIZ_SCENE = "TRANS_ACCOUNT_NO_PWD", "DIRECT_TRANSFER"
# Signed business failures (40004) after which Alipay has definitely not paid and never will for
# this out_biz_no. Any other refusal leaves the outcome unknown: the query settles it.
DEFINITE_FAILURES = {
    "PAYEE_NOT_EXIST", "PAYEE_USER_INFO_ERROR", "PAYEE_ACCOUNT_STATUS_ERROR", "PAYEE_ACC_OCUPIED",
    "PAYER_BALANCE_NOT_ENOUGH", "PAYEE_CERT_INFO_ERROR", "PAYER_PAYEE_CANNOT_SAME", "PERMIT_CHECK_PERM_LIMITED",
    "EXCEED_LIMIT_SM_MIN_AMOUNT", "EXCEED_LIMIT_SM_AMOUNT", "PAYEE_NOT_RELNAME_CERTIFY",
}
NOT_FOUND = ("ORDER_NOT_EXIST",)
ALIPAY_USER_ID = re.compile(r"2088[0-9]{12}")
OPEN_ID = re.compile(r"[0-9A-Za-z_-]{8,128}")
AUTH_CODE = re.compile(r"[0-9A-Za-z_-]{1,128}")


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _code(exc: AliPayException) -> str:
    try:
        body = json.loads(exc._AliPayException__message)
        inner = next(value for key, value in body.items() if key.endswith("_response"))
        return inner.get("sub_code") or inner.get("code") or "UNKNOWN"
    except (AttributeError, TypeError, ValueError, StopIteration):
        return "UNKNOWN"


def mask(identifier: str) -> str:
    """``2088102177846880`` -> ``2088****6880``: enough to recognize, never the whole."""
    if len(identifier) <= 8:
        return identifier[:2] + "****"
    return f"{identifier[:4]}****{identifier[-4:]}"


class AlipayPayout(PayoutChannel):
    name = "alipay"
    label = {"zh_CN": "支付宝", "en": "Alipay"}

    def __init__(self, settings: dict):
        self.settings = settings
        self._client = None

    @property
    def client(self):
        # Built on first use: listing channels (pages, the CLI) needs no keys parsed.
        if self._client is None:
            self._client = alipay_client(self.settings)
        return self._client

    def _call(self, method: str, biz: dict | None = None, error=PayoutError, **top_level) -> dict:
        try:
            return self.client.server_api(method, biz or {}, **top_level)
        except AliPayValidationError as exc:
            raise error("Alipay's answer failed signature verification", "BAD_RESPONSE") from exc
        except AliPayException as exc:  # unsigned error answers (error_response, 40002)
            raise error(f"Alipay refused the call ({_code(exc)})", _code(exc)) from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:  # network, timeouts, not JSON
            raise error(f"Alipay could not be reached: {type(exc).__name__}", "NETWORK") from exc

    # Binding (绑定支付宝)

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        base = self.settings.get("authorize_url") or AUTHORIZE_URL
        query = urlencode({"app_id": self.settings["app_id"], "scope": "auth_user",
                           "redirect_uri": redirect_uri, "state": state})
        return f"{base}?{query}"

    def bind(self, callback_args: dict) -> BoundAccount:
        if callback_args.get("app_id") not in (None, self.settings["app_id"]):
            raise BindingError("the authorization names another app", "APP_ID")
        auth_code = callback_args.get("auth_code") or ""
        if not AUTH_CODE.fullmatch(auth_code):
            raise BindingError("no authorization code", "NO_CODE")
        token = self._call(TOKEN, error=BindingError, grant_type="authorization_code", code=auth_code)
        access_token = token.get("access_token")
        if not access_token:
            raise BindingError("Alipay gave no access token", token.get("sub_code") or token.get("code"))
        info = self._call(USER_INFO, error=BindingError, auth_token=access_token)
        if info.get("code") != "10000":
            raise BindingError("Alipay did not share the account", info.get("sub_code") or info.get("code"))
        open_id = info.get("open_id") or token.get("open_id")
        user_id = info.get("user_id") or token.get("user_id")
        if open_id and not OPEN_ID.fullmatch(str(open_id)):
            raise BindingError("malformed open_id", "BAD_RESPONSE")
        if user_id and not ALIPAY_USER_ID.fullmatch(str(user_id)):
            raise BindingError("malformed user_id", "BAD_RESPONSE")
        if open_id:
            subject, subject_type = open_id, "ALIPAY_OPEN_ID"
        elif user_id:
            subject, subject_type = user_id, "ALIPAY_USER_ID"
        else:
            raise BindingError("Alipay named no account", "BAD_RESPONSE")
        nickname = info.get("nick_name")
        return BoundAccount(subject=subject, subject_type=subject_type, masked=mask(user_id or open_id),
                            nickname=str(nickname)[:64] if nickname else None, channel_user_id=user_id)

    # Payouts (提现)

    def _biz(self, request) -> dict:
        return {
            "out_biz_no": request.out_biz_no, "trans_amount": _yuan(request.amount_fen),
            "product_code": PRODUCT_CODE, "biz_scene": BIZ_SCENE, "order_title": request.title[:128],
            "payee_info": {"identity": request.payee, "identity_type": request.payee_type},
        }

    def transfer(self, request) -> TransferResult:
        answer = self._call(TRANSFER, self._biz(request))
        code, sub_code = answer.get("code"), answer.get("sub_code")
        if code == "10000":
            if answer.get("out_biz_no") != request.out_biz_no:
                raise PayoutError("Alipay answered about another transfer", "BAD_RESPONSE")
            return self._result(answer)
        message = f"{sub_code or code}: {answer.get('sub_msg') or answer.get('msg', '')}"
        if code == "40004" and sub_code in DEFINITE_FAILURES:
            raise TransferRefused(message, sub_code)
        raise PayoutError(message, sub_code or code or "UNKNOWN")

    def query_transfer(self, request) -> TransferResult:
        answer = self._call(QUERY, {"product_code": PRODUCT_CODE, "biz_scene": BIZ_SCENE,
                                    "out_biz_no": request.out_biz_no})
        if answer.get("code") != "10000":
            if answer.get("sub_code") in NOT_FOUND:
                return TransferResult("not_found", channel_status=answer["sub_code"])
            raise PayoutError(f"Alipay could not answer ({answer.get('sub_code') or answer.get('code')})",
                              answer.get("sub_code") or answer.get("code") or "UNKNOWN")
        if answer.get("out_biz_no") not in (None, request.out_biz_no):
            raise PayoutError("Alipay answered about another transfer", "BAD_RESPONSE")
        if answer.get("trans_amount") not in (None, _yuan(request.amount_fen)):
            raise PayoutError("Alipay reports another amount", "AMOUNT_MISMATCH")
        return self._result(answer)

    @staticmethod
    def _result(answer: dict) -> TransferResult:
        status, order_id = answer.get("status"), answer.get("order_id")
        if status == "SUCCESS":
            return TransferResult("succeeded", order_id, status)
        if status in ("FAIL", "CLOSED"):
            reason = answer.get("fail_reason") or answer.get("error_code") or status
            return TransferResult("failed", order_id, status, str(reason)[:200])
        # DEALING, WAIT_PAY, REFUND and the like: not final yet.
        return TransferResult("processing", order_id, (status or "UNKNOWN")[:64])
