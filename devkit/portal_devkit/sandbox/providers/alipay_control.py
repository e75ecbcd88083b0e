"""Alipay control API for tests at /_sandbox/alipay: scan, pay, close, expire, faults, log, clock.

- ``POST /_sandbox/alipay/pay {"out_trade_no", "amount"?, "faults"?}``: the buyer scans and pays
  (optionally a different amount, in fen); ``faults`` (``portal_devkit.sandbox.notify.Faults``) shape the
  notification.
- ``POST /_sandbox/alipay/scan|close|expire|refund {"out_trade_no"}`` (refund: all of a paid trade's
  money goes back and it becomes TRADE_CLOSED); ``GET /_sandbox/alipay/orders/<no>``.
- ``GET /_sandbox/alipay/notifications?out_trade_no=``, ``POST .../notifications/<id>/replay``,
  ``POST /_sandbox/alipay/clock {"offset"}``, ``POST /_sandbox/alipay/settings {"notify_time_scale"}``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from portal_devkit.sandbox.notify import Faults, add_control_routes
from portal_devkit.sandbox.providers import alipay, alipay_buyer

PREFIX = "/_sandbox/alipay"

bp = Blueprint("sandbox_alipay_control", __name__)
add_control_routes(bp, PREFIX, "alipay")


def _describe(trade: dict) -> dict:
    return {
        "out_trade_no": trade["out_trade_no"],
        "subject": trade["subject"],
        "status": trade["status"],
        "total_amount": str(trade["amount"]),
        "qr_code": trade["qr_code"],
        "trade_no": trade["trade_no"],
        "notify_url": trade["notify_url"],
        "expires_at": trade["expires_at"].isoformat() if trade["expires_at"] else None,
    }


def _out_trade_no() -> str | None:
    return (request.get_json(silent=True) or {}).get("out_trade_no")


@bp.get(PREFIX + "/orders/<out_trade_no>")
def show_order(out_trade_no):
    sandbox = current_app.extensions["sandbox"]
    trade = sandbox.state["alipay"]["trades"].get(out_trade_no)
    if trade is None:
        return jsonify(error=f"no order {out_trade_no!r}"), 404
    return jsonify(_describe(alipay.close_if_due(trade, sandbox.now())))


@bp.post(PREFIX + "/scan")
def scan():
    try:
        return jsonify(_describe(alipay_buyer.scan(current_app.extensions["sandbox"], _out_trade_no())))
    except ValueError as exc:
        return jsonify(error=str(exc)), 400


@bp.post(PREFIX + "/pay")
def pay():
    data = request.get_json(silent=True) or {}
    try:
        faults = Faults.from_json(data.get("faults"))
        return jsonify(
            alipay_buyer.pay(
                current_app.extensions["sandbox"], data.get("out_trade_no"), data.get("amount"), faults
            )
        )
    except (TypeError, ValueError) as exc:
        return jsonify(error=str(exc)), 400


@bp.post(PREFIX + "/close")
def close():
    sandbox = current_app.extensions["sandbox"]
    with sandbox.lock:
        trade = sandbox.state["alipay"]["trades"].get(_out_trade_no())
        if trade is None:
            return jsonify(error="no such order"), 404
        if trade["status"] in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return jsonify(error="trade is paid"), 409
        trade["status"] = "PRECREATED_CLOSED" if trade["status"] == "PRECREATED" else "TRADE_CLOSED"
        return jsonify(_describe(trade))


@bp.post(PREFIX + "/expire")
def expire():
    """The payable window ends now: a scanned trade closes, an unscanned QR code stops working."""
    sandbox = current_app.extensions["sandbox"]
    with sandbox.lock:
        trade = sandbox.state["alipay"]["trades"].get(_out_trade_no())
        if trade is None:
            return jsonify(error="no such order"), 404
        if trade["status"] == "PRECREATED":
            trade["status"] = "PRECREATED_CLOSED"
        trade["expires_at"] = sandbox.now()
        return jsonify(_describe(alipay.close_if_due(trade, sandbox.now())))


@bp.post(PREFIX + "/refund")
def refund():
    sandbox = current_app.extensions["sandbox"]
    with sandbox.lock:
        trade = sandbox.state["alipay"]["trades"].get(_out_trade_no())
        if trade is None:
            return jsonify(error="no such order"), 404
        if trade["status"] != "TRADE_SUCCESS":
            return jsonify(error="only a paid trade can be refunded"), 409
        trade["status"] = "TRADE_CLOSED"
        return jsonify(_describe(trade))
