"""WeChat Pay refunds at /wxpay: apply (``POST /v3/refund/domestic/refunds``), query, notifications.

Requests are verified like every /wxpay/v3 call (``wechatpay._verify_merchant_signature``); answers
are signed. A refund is answered PROCESSING and succeeds at once [policy] (then REFUND.SUCCESS is
notified, encrypted like payments); the paid order's trade_state becomes REFUND. Errors are WeChat
Pay's: PARAM_ERROR, 404 RESOURCE_NOT_EXISTS, INVALID_REQUEST (not paid, total differs, more than is
left, a reused out_refund_no with other parameters), 403 NOT_ENOUGH (set by a fault).

Control API (tests) at /_sandbox/wxpay:
- ``POST /refund-faults {"refuse"?: code, "timeout"?: seconds, "processing"?: true, "notification"?:
  {Faults}}``: the next refund request is refused with ``code``; or made and then answered only
  after ``timeout`` seconds (a lost answer); or left PROCESSING; its notification gets ``Faults``.
- ``GET /refunds?out_trade_no=``: the refunds made; ``POST /refunds/<no>/finish {"status"}``: a
  PROCESSING refund becomes SUCCESS, CLOSED or ABNORMAL (and is notified).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Blueprint, current_app, jsonify, request

from portal_devkit.sandbox.notify import Faults, Notification
from portal_devkit.sandbox.providers import wechatpay, wechatpay_buyer

API = wechatpay.PREFIX + "/v3/refund/domestic/refunds"
CONTROL = "/_sandbox/wxpay"
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_|*@-]{1,64}")
ERRORS = {
    "NOT_ENOUGH": (403, "基本账户余额不足，请充值后重新发起"),
    "SYSTEM_ERROR": (500, "系统超时，请使用相同参数稍后重新调用"),
    "FREQUENCY_LIMITED": (429, "请求频率超限，请降低请求接口频率"),
    "USER_ACCOUNT_ABNORMAL": (403, "退款请求失败，用户账户异常"),
}
FINAL = ("SUCCESS", "CLOSED", "ABNORMAL")

bp = Blueprint("sandbox_wechatpay_refunds", __name__)


def _state():
    return wechatpay.current_state()


@bp.before_request
def _verify():
    return wechatpay._verify_merchant_signature()


def _next_fault() -> dict:
    faults = _state().setdefault("refund_faults", [])
    return faults.pop(0) if faults else {}


def _problem(data) -> str:
    if not isinstance(data, dict):
        return "请求体须为 JSON 对象"
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    if not isinstance(data.get("out_refund_no"), str) or not OUT_REFUND_NO.fullmatch(data["out_refund_no"]):
        return "out_refund_no 须为 1 到 64 位数字、字母、_-|*@"
    if bool(data.get("transaction_id")) == bool(data.get("out_trade_no")):
        return "transaction_id 与 out_trade_no 须且只须填一个"
    if type(amount.get("refund")) is not int or amount["refund"] <= 0:
        return "amount.refund 须为正整数（分）"
    if type(amount.get("total")) is not int or amount["total"] <= 0 or amount.get("currency") != "CNY":
        return "amount.total 须为正整数（分），currency 须为 CNY"
    if data.get("reason") is not None and (not isinstance(data["reason"], str) or len(data["reason"]) > 80):
        return "reason 长度不能超过 80"
    if data.get("notify_url") is not None and not re.match(r"https?://", str(data["notify_url"])):
        return "notify_url 须为 http(s) 地址"
    return ""


def _order(data: dict) -> dict | None:
    orders = _state()["orders"]
    if data.get("out_trade_no"):
        return orders.get(data["out_trade_no"])
    return next((o for o in orders.values() if o["transaction_id"] == data["transaction_id"]), None)


def describe(refund: dict) -> dict:
    """The refund object of answers and queries."""
    order, amount = refund["order"], refund["amount"]
    result = {
        "refund_id": refund["refund_id"],
        "out_refund_no": refund["out_refund_no"],
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": wechatpay.rfc3339(refund["created_at"]),
        "status": refund["status"],
        "funds_account": "AVAILABLE",
        "amount": {
            "total": order["total"], "refund": amount, "payer_total": order["total"], "payer_refund": amount,
            "settlement_refund": amount, "settlement_total": order["total"], "discount_refund": 0,
            "currency": "CNY", "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if refund["success_time"]:
        result["success_time"] = wechatpay.rfc3339(refund["success_time"])
    return result


@bp.post(API)
def apply_refund():
    data = request.get_json(silent=True)
    problem = _problem(data)
    if problem:
        return wechatpay._error(400, "PARAM_ERROR", problem)
    sandbox, state = wechatpay.current_sandbox(), _state()
    with sandbox.lock:
        fault = _next_fault()
        if fault.get("refuse"):
            status, message = ERRORS.get(fault["refuse"], (400, "请求参数符合格式，但不符合业务规则"))
            return wechatpay._error(status, fault["refuse"], message)
        refunds = state.setdefault("refunds", {})
        existing = refunds.get(data["out_refund_no"])
        if existing is not None:
            if existing["params"] != {k: v for k, v in data.items() if k not in ("reason", "notify_url")}:
                return wechatpay._error(400, "INVALID_REQUEST", "退款单号已存在，且与原退款请求参数不一致")
            return wechatpay._reply(200, describe(existing))
        order = _order(data)
        if order is None:
            return wechatpay._error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if order["trade_state"] not in ("SUCCESS", "REFUND"):
            return wechatpay._error(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if data["amount"]["total"] != order["total"]:
            return wechatpay._error(400, "INVALID_REQUEST", "订单金额与原订单金额不一致")
        refunded = sum(r["amount"] for r in refunds.values() if r["order"] is order and r["status"] != "CLOSED")
        if refunded + data["amount"]["refund"] > order["total"]:
            return wechatpay._error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        refund = {
            "params": {k: v for k, v in data.items() if k not in ("reason", "notify_url")},
            "out_refund_no": data["out_refund_no"],
            "refund_id": "50" + sandbox.now().strftime("%Y%m%d") + f"{secrets.randbelow(10**18):018d}",
            "order": order,
            "amount": data["amount"]["refund"],
            "reason": data.get("reason") or "",
            "notify_url": data.get("notify_url"),
            "created_at": sandbox.now(),
            "success_time": None,
            "status": "PROCESSING",
            "faults": Faults.from_json(fault.get("notification")),
        }
        refunds[refund["out_refund_no"]] = refund
        order["trade_state"] = "REFUND"
        answer = describe(refund)
        if not fault.get("processing"):
            finish(sandbox, refund, "SUCCESS")
    if fault.get("timeout"):
        # The refund was made; its answer comes too late for the caller, who must query.
        time.sleep(float(fault["timeout"]))
    return wechatpay._reply(200, answer)


@bp.get(API + "/<out_refund_no>")
def query_refund(out_refund_no):
    with wechatpay.current_sandbox().lock:
        refund = _state().get("refunds", {}).get(out_refund_no)
        if refund is None:
            return wechatpay._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return wechatpay._reply(200, describe(refund))


def finish(sandbox, refund: dict, status: str) -> None:
    """A PROCESSING refund ends (SUCCESS, CLOSED, ABNORMAL) and is notified. Call with the lock held."""
    refund["status"] = status
    if status == "SUCCESS":
        refund["success_time"] = sandbox.now()
    if refund["notify_url"]:
        sandbox.state["wechatpay"]["notifier"].deliver(Notification(
            refund["out_refund_no"], refund["notify_url"], _renderer(sandbox, refund), refund["faults"]))


def _resource(refund: dict) -> dict:
    order = refund["order"]
    resource = {
        "mchid": wechatpay.MCHID,
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "refund_id": refund["refund_id"],
        "out_refund_no": refund["out_refund_no"],
        "refund_status": refund["status"],
        "user_received_account": "支付用户零钱",
        "amount": {"total": order["total"], "refund": refund["amount"], "payer_total": order["total"],
                   "payer_refund": refund["amount"]},
    }
    if refund["success_time"]:
        resource["success_time"] = wechatpay.rfc3339(refund["success_time"])
    return resource


def _renderer(sandbox, refund: dict):
    faults = refund["faults"]
    resource = _resource(refund)
    if faults.tamper_amount is not None:
        resource["amount"].update(refund=faults.tamper_amount, payer_refund=faults.tamper_amount)
    if faults.foreign_merchant:
        resource["mchid"] = wechatpay.FOREIGN_MCHID
    body = json.dumps(_envelope(sandbox, refund["status"], json.dumps(resource, ensure_ascii=False)),
                      ensure_ascii=False)

    def render(now: datetime) -> tuple[dict, bytes]:
        headers = wechatpay_buyer.sign_body(sandbox, body, now - timedelta(minutes=10) if faults.stale else now,
                                            "WECHATPAY/SIGNTEST/" if faults.signtest else "")
        if faults.bad_signature:
            signature = bytearray(base64.b64decode(headers["Wechatpay-Signature"]))
            signature[0] ^= 0xFF
            headers["Wechatpay-Signature"] = base64.b64encode(bytes(signature)).decode()
        return headers, body.encode()

    return render


def _envelope(sandbox, status: str, plaintext: str) -> dict:
    nonce = secrets.token_urlsafe(9)[:12]
    ciphertext = AESGCM(sandbox.state["wechatpay"]["apiv3_key"].encode()).encrypt(
        nonce.encode(), plaintext.encode(), b"refund")
    return {
        "id": "EV-" + secrets.token_hex(16),
        "create_time": wechatpay.rfc3339(sandbox.now()),
        "resource_type": "encrypt-resource",
        "event_type": f"REFUND.{status}",
        "summary": {"SUCCESS": "退款成功", "CLOSED": "退款关闭", "ABNORMAL": "退款异常"}[status],
        "resource": {
            "original_type": "refund",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": "refund",
            "nonce": nonce,
        },
    }


# The control API for tests.


@bp.post(CONTROL + "/refund-faults")
def add_fault():
    data = request.get_json(silent=True) or {}
    unknown = set(data) - {"refuse", "timeout", "processing", "notification"}
    if unknown:
        return jsonify(error=f"unknown faults: {', '.join(sorted(unknown))}"), 400
    try:
        Faults.from_json(data.get("notification"))
    except (TypeError, ValueError) as exc:
        return jsonify(error=str(exc)), 400
    sandbox = current_app.extensions["sandbox"]
    with sandbox.lock:
        sandbox.state["wechatpay"].setdefault("refund_faults", []).append(data)
    return jsonify(data)


@bp.get(CONTROL + "/refunds")
def list_refunds():
    sandbox, number = current_app.extensions["sandbox"], request.args.get("out_trade_no")
    with sandbox.lock:
        found = [r for r in sandbox.state["wechatpay"].get("refunds", {}).values()
                 if number in (None, r["order"]["out_trade_no"])]
        return jsonify([{**describe(r), "reason": r["reason"]} for r in found])


@bp.post(CONTROL + "/refunds/<out_refund_no>/finish")
def finish_refund(out_refund_no):
    sandbox, status = current_app.extensions["sandbox"], (request.get_json(silent=True) or {}).get("status")
    if status not in FINAL:
        return jsonify(error=f"status must be one of {', '.join(FINAL)}"), 400
    with sandbox.lock:
        refund = sandbox.state["wechatpay"].get("refunds", {}).get(out_refund_no)
        if refund is None or refund["status"] != "PROCESSING":
            return jsonify(error="no such refund in PROCESSING"), 409
        finish(sandbox, refund, status)
        return jsonify(describe(refund))
