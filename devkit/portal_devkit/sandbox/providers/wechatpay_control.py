"""WeChat Pay control API for tests at /_sandbox/wxpay: pay, close, expire, faults, log, clock.

- ``POST /_sandbox/wxpay/pay {"out_trade_no", "amount"?, "faults"?}``: the buyer pays (optionally a
  different amount in fen); ``faults`` (see ``portal_devkit.sandbox.notify.Faults``) shape the notification.
- ``POST /_sandbox/wxpay/scan|close|expire|refund {"out_trade_no"}`` (refund: a paid order's money goes
  back, its trade_state becomes REFUND); ``GET /_sandbox/wxpay/orders/<no>``.
- ``GET /_sandbox/wxpay/notifications?out_trade_no=``, ``POST .../notifications/<id>/replay``,
  ``POST /_sandbox/wxpay/clock {"offset"}``, ``POST /_sandbox/wxpay/settings {"notify_time_scale"}``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from portal_devkit.sandbox.notify import Faults, add_control_routes
from portal_devkit.sandbox.providers import wechatpay, wechatpay_buyer

PREFIX = "/_sandbox/wxpay"

bp = Blueprint("sandbox_wechatpay_control", __name__)
add_control_routes(bp, PREFIX, "wechatpay")


def _order_or_error():
    sandbox = current_app.extensions["sandbox"]
    out_trade_no = (request.get_json(silent=True) or {}).get("out_trade_no")
    order = sandbox.state["wechatpay"]["orders"].get(out_trade_no)
    if order is None:
        return None, (jsonify(error=f"no order {out_trade_no!r}"), 404)
    return order, None


def _describe(order: dict) -> dict:
    return {
        "out_trade_no": order["out_trade_no"],
        "description": order["description"],
        "trade_state": order["trade_state"],
        "total": order["total"],
        "code_url": order["code_url"],
        "scan_url": f"{request.host_url.rstrip('/')}/wxpay/_scan/{order['token']}",
        "notify_url": order["notify_url"],
        "time_expire": order["time_expire"].isoformat(),
        "transaction_id": order["transaction_id"],
        "scanned": order["scanned"],
    }


@bp.get(PREFIX + "/orders/<out_trade_no>")
def show_order(out_trade_no):
    order = current_app.extensions["sandbox"].state["wechatpay"]["orders"].get(out_trade_no)
    if order is None:
        return jsonify(error=f"no order {out_trade_no!r}"), 404
    return jsonify(_describe(wechatpay.expire_if_due(order)))


@bp.post(PREFIX + "/scan")
def scan():
    order, error = _order_or_error()
    if error:
        return error
    order["scanned"] = True
    return jsonify(_describe(order))


@bp.post(PREFIX + "/pay")
def pay():
    data = request.get_json(silent=True) or {}
    try:
        faults = Faults.from_json(data.get("faults"))
        resource = wechatpay_buyer.pay(
            current_app.extensions["sandbox"], data.get("out_trade_no"), data.get("amount"), faults
        )
    except (TypeError, ValueError) as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(resource)


@bp.post(PREFIX + "/close")
def close():
    order, error = _order_or_error()
    if error:
        return error
    if order["trade_state"] == "SUCCESS":
        return jsonify(error="order is paid"), 409
    order["trade_state"] = "CLOSED"
    return jsonify(_describe(order))


@bp.post(PREFIX + "/expire")
def expire():
    order, error = _order_or_error()
    if error:
        return error
    order["time_expire"] = current_app.extensions["sandbox"].now()
    return jsonify(_describe(wechatpay.expire_if_due(order)))


@bp.post(PREFIX + "/refund")
def refund():
    order, error = _order_or_error()
    if error:
        return error
    if order["trade_state"] != "SUCCESS":
        return jsonify(error="only a paid order can be refunded"), 409
    order["trade_state"] = "REFUND"
    return jsonify(_describe(order))
