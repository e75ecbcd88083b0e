"""Alipay refunds at the gateway: ``alipay.trade.refund`` and ``alipay.trade.fastpay.refund.query``.

A refund is made and answered at once (``fund_change=Y``; ``N`` when the same ``out_request_no`` comes
again with the same amount). A trade refunded in full becomes TRADE_CLOSED. Errors are Alipay's
(40004, signed): ACQ.TRADE_NOT_EXIST, ACQ.TRADE_STATUS_ERROR (not paid), ACQ.INVALID_PARAMETER,
ACQ.REFUND_AMT_NOT_EQUAL_TOTAL (more than is left), ACQ.DISCORDANT_REPEAT_REQUEST (the same
out_request_no with another amount), ACQ.SELLER_BALANCE_NOT_ENOUGH (set by a fault). The query
answers without ``refund_amount`` for a refund it does not know (Alipay's "not refunded").

Control API (tests) at /_sandbox/alipay:
- ``POST /refund-faults {"refuse"?: sub_code, "timeout"?: seconds}``: the next refund is refused with
  ``sub_code``, or made and then answered only after ``timeout`` seconds (a lost answer).
- ``GET /refunds?out_trade_no=``: the refunds made.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, current_app, g, jsonify, request

from portal_devkit.sandbox.providers import alipay

CONTROL = "/_sandbox/alipay"
MESSAGES = {
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": "卖家余额不足",
    "ACQ.SYSTEM_ERROR": "系统错误",
    "ACQ.TRADE_NOT_ALLOW_REFUND": "当前交易不允许退款",
}

bp = Blueprint("sandbox_alipay_refunds", __name__)


def _fen(amount) -> int:
    return int(amount * 100)


def refund(biz: dict, params: dict) -> dict:
    sandbox = alipay.current_sandbox()
    faults = sandbox.state["alipay"].setdefault("refund_faults", [])
    fault = faults.pop(0) if faults else {}
    if fault.get("refuse"):
        return alipay._failed(fault["refuse"], MESSAGES.get(fault["refuse"], "退款失败"))
    trade = alipay._find(biz)
    if trade is None:
        return alipay._failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
    amount, _ = alipay._amount(biz.get("refund_amount"))
    if amount is None:
        return alipay._failed("ACQ.INVALID_PARAMETER", "refund_amount 须为 0.01 以上、最多两位小数的金额")
    number = biz.get("out_request_no") or trade["out_trade_no"]
    if not isinstance(number, str) or len(number) > 64:
        return alipay._failed("ACQ.INVALID_PARAMETER", "out_request_no 须为不超过 64 个字符的字符串")
    refunds = trade.setdefault("refunds", {})
    existing = refunds.get(number)
    if existing is not None:
        if existing["amount"] != amount:
            return alipay._failed("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求")
        return _answer(trade, existing, "N")
    if trade["status"] != "TRADE_SUCCESS":
        return alipay._failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    refunded = sum((r["amount"] for r in refunds.values()), Decimal(0))
    if refunded + amount > trade["paid_amount"]:
        return alipay._failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
    made = {"out_request_no": number, "amount": amount, "reason": biz.get("refund_reason") or "",
            "at": sandbox.now()}
    refunds[number] = made
    if refunded + amount == trade["paid_amount"]:
        trade["status"] = "TRADE_CLOSED"
    if fault.get("timeout"):
        # The refund was made; its answer comes too late for the caller, who must query.
        g.alipay_answer_delay = float(fault["timeout"])
    return _answer(trade, made, "Y")


def _answer(trade: dict, made: dict, fund_change: str) -> dict:
    total = sum(r["amount"] for r in trade["refunds"].values())
    return {
        "code": "10000", "msg": "Success", "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
        "buyer_logon_id": alipay.BUYER["buyer_logon_id"], "buyer_user_id": alipay.BUYER["buyer_id"],
        "fund_change": fund_change, "refund_fee": str(total), "send_back_fee": str(made["amount"]),
        "gmt_refund_pay": alipay.china_time(made["at"]),
    }


def refund_query(biz: dict, params: dict) -> dict:
    trade = alipay._find(biz)
    if trade is None:
        return alipay._failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
    made = trade.get("refunds", {}).get(biz.get("out_request_no"))
    if made is None:
        return {"code": "10000", "msg": "Success"}
    return {
        "code": "10000", "msg": "Success", "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
        "out_request_no": made["out_request_no"], "total_amount": str(trade["paid_amount"]),
        "refund_amount": str(made["amount"]), "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": alipay.china_time(made["at"]),
    }


alipay.METHODS.update({"alipay.trade.refund": refund, "alipay.trade.fastpay.refund.query": refund_query})


@bp.post(CONTROL + "/refund-faults")
def add_fault():
    data = request.get_json(silent=True) or {}
    # "notification" is accepted and ignored: this sandbox's Alipay does not notify refunds.
    unknown = set(data) - {"refuse", "timeout", "notification"}
    if unknown:
        return jsonify(error=f"unknown faults: {', '.join(sorted(unknown))}"), 400
    sandbox = current_app.extensions["sandbox"]
    with sandbox.lock:
        sandbox.state["alipay"].setdefault("refund_faults", []).append(data)
    return jsonify(data)


@bp.get(CONTROL + "/refunds")
def list_refunds():
    sandbox, number = current_app.extensions["sandbox"], request.args.get("out_trade_no")
    with sandbox.lock:
        found = [
            {"out_refund_no": r["out_request_no"], "out_request_no": r["out_request_no"],
             "out_trade_no": t["out_trade_no"], "trade_no": t["trade_no"], "refund_amount": str(r["amount"]),
             "amount": {"refund": _fen(r["amount"])}, "reason": r["reason"]}
            for t in sandbox.state["alipay"]["trades"].values() if number in (None, t["out_trade_no"])
            for r in t.get("refunds", {}).values()
        ]
    return jsonify(found)
