"""WeChat Pay API v3 (Native) at /wxpay: signed requests and responses, orders, query, close.

Mounted at ``/wxpay`` (api.mch.weixin.qq.com). Requests are verified like the real gateway does
(merchant key over the path that follows the base URL, +-300 s); every response is signed with the
platform key in public-key mode. The buyer's side (paying, notifications, the phone-like page behind
the QR code) is in ``wechatpay_buyer``; the control API for tests in ``wechatpay_control``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Blueprint, Response, current_app, request

from portal_devkit.sandbox.keys import new_rsa_key, private_pem, public_pem
from portal_devkit.sandbox.notify import WECHATPAY_RETRY_SCHEDULE, Notifier, in_outage

PREFIX = "/wxpay"
MCHID = "1900009191"
APPID = "wxd678efh567hg6787"
FOREIGN_MCHID = "1900000666"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
SKEW_SECONDS = 300
DEFAULT_PAYABLE = timedelta(days=7)
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_*\-]{6,32}")
AUTHORIZATION = re.compile(r'(\w+)="([^"]*)"')
CHINA = timezone(timedelta(hours=8))
STATE_DESC = {"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "CLOSED": "订单已关闭", "REFUND": "转入退款"}

bp = Blueprint("sandbox_wechatpay", __name__)


def setup(sandbox):
    sandbox.state["wechatpay"] = {
        "merchant_key": new_rsa_key(),
        "merchant_serial_no": secrets.token_hex(20).upper(),
        "platform_key": new_rsa_key(),
        "public_key_id": "PUB_KEY_ID_" + secrets.token_hex(14).upper(),
        "apiv3_key": secrets.token_hex(16),
        "orders": {},  # out_trade_no -> order dict
        "tokens": {},  # pr token -> out_trade_no
        "notifier": Notifier(sandbox, WECHATPAY_RETRY_SCHEDULE, lambda status, body: 200 <= status < 300),
    }


def stop(sandbox):
    sandbox.state["wechatpay"]["notifier"].stop()


def plugin_settings(sandbox):
    state = sandbox.state["wechatpay"]
    return {
        "wechatpay": {
            "base_url": sandbox.url + PREFIX,
            "mchid": MCHID,
            "appid": APPID,
            "merchant_serial_no": state["merchant_serial_no"],
            "private_key": private_pem(state["merchant_key"]),
            "platform_public_key": public_pem(state["platform_key"]),
            "platform_public_key_id": state["public_key_id"],
            "apiv3_key": state["apiv3_key"],
            # The buyer's phone page (wechatpay_buyer): the order page links to it beside the QR code.
            "payer_help_url": sandbox.url + PREFIX + "/_scan/{pr}",
        }
    }


def current_sandbox():
    return current_app.extensions["sandbox"]


def current_state():
    return current_sandbox().state["wechatpay"]


def rfc3339(moment: datetime) -> str:
    return moment.replace(tzinfo=timezone.utc).astimezone(CHINA).isoformat(timespec="seconds")


def _sign(message: str) -> str:
    signature = current_state()["platform_key"].sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def signed_headers(body: str, now: datetime, signature_prefix: str = "") -> dict:
    """The headers WeChat Pay puts on every response and notification (platform key, public-key mode)."""
    timestamp, nonce = str(int(now.replace(tzinfo=timezone.utc).timestamp())), secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature_prefix + _sign(f"{timestamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": current_state()["public_key_id"],
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        "Request-ID": secrets.token_hex(16),
    }


def _reply(status: int, payload: dict | None = None) -> Response:
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    response = Response(body, status=status, content_type="application/json")
    response.headers.update(signed_headers(body, current_sandbox().now()))
    return response


def _error(status: int, code: str, message: str) -> Response:
    return _reply(status, {"code": code, "message": message})


@bp.before_request
def _verify_merchant_signature():
    if not request.path.startswith(PREFIX + "/v3/"):
        return None
    scheme, _, params = request.headers.get("Authorization", "").partition(" ")
    fields = dict(AUTHORIZATION.findall(params))
    state = current_state()
    if scheme != SIGNATURE_TYPE or fields.get("mchid") != MCHID:
        return _error(401, "SIGN_ERROR", "Authorization 头缺失或商户号不正确")
    if fields.get("serial_no") != state["merchant_serial_no"]:
        return _error(401, "SIGN_ERROR", "商户证书序列号不正确")
    try:
        skew = abs(
            int(fields.get("timestamp", ""))
            - current_sandbox().now().replace(tzinfo=timezone.utc).timestamp()
        )
    except ValueError:
        return _error(401, "SIGN_ERROR", "时间戳格式错误")
    if skew > SKEW_SECONDS:
        return _error(401, "SIGN_ERROR", "时间戳与系统时间相差超过 5 分钟")
    raw_uri = request.environ.get("RAW_URI") or request.full_path.rstrip("?")
    message = (
        f"{request.method}\n{raw_uri[len(PREFIX) :]}\n{fields['timestamp']}\n"
        f"{fields.get('nonce_str', '')}\n{request.get_data(as_text=True)}\n"
    )
    try:
        state["merchant_key"].public_key().verify(
            base64.b64decode(fields.get("signature", "")),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return _error(401, "SIGN_ERROR", "签名错误")
    if in_outage(current_sandbox(), "wechatpay"):
        return _error(500, "SYSTEM_ERROR", "系统错误")
    return None


def expire_if_due(order: dict) -> dict:
    # [policy] an unpaid order past time_expire reads as closed.
    if order["trade_state"] == "NOTPAY" and current_sandbox().now() >= order["time_expire"]:
        order["trade_state"] = "CLOSED"
    return order


def _parse_order(data: dict) -> tuple[dict | None, str]:
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    total = amount.get("total")
    if data.get("appid") != APPID:
        return None, "appid 不正确"
    if data.get("mchid") != MCHID:
        return None, "mchid 与请求头的商户号不一致"
    if not isinstance(data.get("description"), str) or not 1 <= len(data["description"]) <= 127:
        return None, "description 长度须为 1 到 127"
    if not isinstance(data.get("out_trade_no"), str) or not OUT_TRADE_NO.fullmatch(data["out_trade_no"]):
        return None, "out_trade_no 须为 6 到 32 位数字、字母、_-*"
    if not isinstance(data.get("notify_url"), str) or not re.match(r"https?://", data["notify_url"]):
        return None, "notify_url 须为 http(s) 地址"
    if type(total) is not int or total <= 0 or amount.get("currency", "CNY") != "CNY":
        return None, "amount.total 须为正整数（分），currency 须为 CNY"
    if len(data.get("attach") or "") > 128:
        return None, "attach 长度不能超过 128"
    now = current_sandbox().now()
    time_expire = now + DEFAULT_PAYABLE
    if data.get("time_expire") is not None:
        try:
            parsed = datetime.fromisoformat(data["time_expire"])
        except (TypeError, ValueError):
            return None, "time_expire 须为 RFC 3339 格式"
        if parsed.tzinfo is None:
            return None, "time_expire 须带时区"
        time_expire = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return {
        "params": data,
        "out_trade_no": data["out_trade_no"],
        "description": data["description"],
        "notify_url": data["notify_url"],
        "total": total,
        "attach": data.get("attach") or "",
        "time_expire": time_expire,
        "created_at": now,
        "trade_state": "NOTPAY",
        "scanned": False,
        "transaction_id": None,
        "success_time": None,
        "payer_total": None,
    }, ""


@bp.post(PREFIX + "/v3/pay/transactions/native")
def native_order():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _error(400, "PARAM_ERROR", "请求体须为 JSON 对象")
    order, problem = _parse_order(data)
    if order is None:
        return _error(400, "PARAM_ERROR", problem)
    state = current_state()
    with current_sandbox().lock:
        existing = state["orders"].get(order["out_trade_no"])
        if existing is not None:
            expire_if_due(existing)
            if existing["trade_state"] == "SUCCESS":
                return _error(400, "ORDERPAID", "该订单已支付")
            if existing["trade_state"] == "CLOSED":
                return _error(400, "ORDER_CLOSED", "该订单已关闭")
            if existing["params"] != data:
                return _error(403, "OUT_TRADE_NO_USED", "商户订单号重复，且参数与原订单不一致")
            return _reply(200, {"code_url": existing["code_url"]})
        if order["time_expire"] <= current_sandbox().now():
            return _error(400, "PARAM_ERROR", "time_expire 已过")
        token = secrets.token_urlsafe(12)
        order["token"], order["code_url"] = token, f"weixin://wxpay/bizpayurl?pr={token}"
        state["orders"][order["out_trade_no"]] = order
        state["tokens"][token] = order["out_trade_no"]
    return _reply(200, {"code_url": order["code_url"]})


def transaction(order: dict) -> dict:
    """The transaction object of queries and (encrypted) notifications."""
    expire_if_due(order)
    result = {
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": order["out_trade_no"],
        "attach": order["attach"],
        "trade_state": order["trade_state"],
        "trade_state_desc": STATE_DESC[order["trade_state"]],
        "amount": {"total": order["total"], "currency": "CNY"},
    }
    if order["trade_state"] == "SUCCESS" or order["transaction_id"]:
        result.update(
            {
                "transaction_id": order["transaction_id"],
                "trade_type": "NATIVE",
                "bank_type": "OTHERS",
                "success_time": rfc3339(order["success_time"]),
                "payer": {"openid": order["payer_openid"]},
            }
        )
        result["amount"].update({"payer_total": order["payer_total"], "payer_currency": "CNY"})
    return result


def _query(order: dict | None, mchid: str | None) -> Response:
    if mchid != MCHID:
        return _error(400, "PARAM_ERROR", "mchid 与请求头的商户号不一致")
    if order is None:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    with current_sandbox().lock:
        return _reply(200, transaction(order))


@bp.get(PREFIX + "/v3/pay/transactions/out-trade-no/<out_trade_no>")
def query_by_out_trade_no(out_trade_no):
    return _query(current_state()["orders"].get(out_trade_no), request.args.get("mchid"))


@bp.get(PREFIX + "/v3/pay/transactions/id/<transaction_id>")
def query_by_transaction_id(transaction_id):
    order = next(
        (o for o in current_state()["orders"].values() if o["transaction_id"] == transaction_id), None
    )
    return _query(order, request.args.get("mchid"))


@bp.post(PREFIX + "/v3/pay/transactions/out-trade-no/<out_trade_no>/close")
def close_order(out_trade_no):
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or data.get("mchid") != MCHID:
        return _error(400, "PARAM_ERROR", "mchid 与请求头的商户号不一致")
    with current_sandbox().lock:
        order = current_state()["orders"].get(out_trade_no)
        if order is not None and order["trade_state"] in ("SUCCESS", "REFUND"):
            return _error(400, "ORDERPAID", "订单已支付，不能关闭")
        if order is not None:
            order["trade_state"] = "CLOSED"
    # The real gateway answers 204 even for an unknown number.
    return _reply(204)
