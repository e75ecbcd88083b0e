"""Alipay buyer's phone: open /alipay/qr/ (or the QR code's link) to scan and pay an order.

Scanning a precreated QR code (the trade starts to exist), paying, the signed form notification it
triggers, and the phone-like page behind the QR code (``/alipay/qr/<token>``).
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request

from portal_devkit.sandbox.notify import Faults, Notification
from portal_devkit.sandbox.providers import alipay

bp = Blueprint("sandbox_alipay_buyer", __name__)


def scan(sandbox, out_trade_no: str) -> dict:
    """The buyer scans the QR code: the trade now exists (WAIT_BUYER_PAY). Raises ValueError."""
    with sandbox.lock:
        trade = sandbox.state["alipay"]["trades"].get(out_trade_no)
        if trade is None:
            raise ValueError("ACQ.TRADE_NOT_EXIST")
        now = sandbox.now()
        if trade["status"] == "PRECREATED":
            deadline = alipay.payable_until(trade["context"]["biz"], now)
            if deadline is not None and now >= deadline:
                raise ValueError("二维码已过期 (the QR code expired)")
            trade.update(
                status="WAIT_BUYER_PAY",
                scanned_at=now,
                expires_at=deadline or now + alipay.DEFAULT_TIMEOUT,
                trade_no=now.strftime("%Y%m%d") + "22001" + f"{secrets.randbelow(10**15):015d}",
            )
        elif trade["status"] == "PRECREATED_CLOSED":
            raise ValueError("交易已关闭 (the order was closed)")
        return alipay.close_if_due(trade, now)


def pay(sandbox, out_trade_no: str, amount_fen: int | None = None, faults: Faults | None = None) -> dict:
    """The buyer scans (if needed) and pays ``amount_fen`` (default: the order's). Raises ValueError."""
    faults = faults or Faults()
    if amount_fen is not None and (type(amount_fen) is not int or amount_fen <= 0):
        raise ValueError("amount must be a positive integer (fen)")
    with sandbox.lock:
        trade = scan(sandbox, out_trade_no)
        if trade["status"] != "WAIT_BUYER_PAY":
            raise ValueError(f"trade is {trade['status']}")
        paid = Decimal(alipay.yuan(amount_fen)) if amount_fen is not None else trade["amount"]
        trade.update(status="TRADE_SUCCESS", paid_at=sandbox.now(), paid_amount=paid, amount=paid)
        fields = _notification_fields(trade, faults)
    if trade["notify_url"]:
        sandbox.state["alipay"]["notifier"].deliver(
            Notification(out_trade_no, trade["notify_url"], _renderer(sandbox, fields, faults), faults)
        )
    return {
        "out_trade_no": out_trade_no,
        "trade_no": trade["trade_no"],
        "trade_status": trade["status"],
        "total_amount": str(paid),
    }


def _notification_fields(trade: dict, faults: Faults) -> dict:
    amount = (
        alipay.yuan(faults.tamper_amount) if faults.tamper_amount is not None else str(trade["paid_amount"])
    )
    return {
        "notify_type": "trade_status_sync",
        "notify_id": uuid.uuid4().hex,
        "app_id": alipay.APP_ID,
        "auth_app_id": alipay.APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "receipt_amount": amount,
        "invoice_amount": amount,
        "buyer_pay_amount": amount,
        "point_amount": "0.00",
        **alipay.BUYER,
        "seller_id": alipay.FOREIGN_SELLER_ID if faults.foreign_merchant else alipay.SELLER_ID,
        "seller_email": "merchant@sandbox.example",
        "subject": trade["subject"],
        "gmt_create": alipay.china_time(trade["scanned_at"]),
        "gmt_payment": alipay.china_time(trade["paid_at"]),
        "fund_bill_list": json.dumps(
            [{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
        ),
    }


def _renderer(sandbox, fields: dict, faults: Faults):
    def render(now: datetime) -> tuple[dict, bytes]:
        moment = now - timedelta(minutes=10) if faults.stale else now
        form = alipay.sign_notification(sandbox, {**fields, "notify_time": alipay.china_time(moment)})
        if faults.bad_signature:
            form["sign"] = alipay.sign(sandbox, alipay.signing_string({**fields, "total_amount": "0.01"}))
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(form).encode()

    return render


# The phone-like page behind the QR code.


@bp.route("/alipay/qr/", defaults={"token": None})
@bp.route("/alipay/qr/<token>", methods=["GET", "POST"])
def qr_page(token):
    sandbox = alipay.current_sandbox()
    out_trade_no = sandbox.state["alipay"]["tokens"].get(token)
    trade = sandbox.state["alipay"]["trades"].get(out_trade_no) if out_trade_no else None
    message = None
    if trade is not None and request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "scan":
                scan(sandbox, out_trade_no)
            elif action == "pay":
                fen = request.form.get("amount", "").strip()
                pay(sandbox, out_trade_no, int(fen) if fen else None)
                return redirect(request.path)
            elif action == "cancel":
                message = "已取消付款，订单保持待付款状态"
        except ValueError as exc:
            message = str(exc)
    if trade is not None:
        with sandbox.lock:
            alipay.close_if_due(trade, sandbox.now())
    orders = sorted(sandbox.state["alipay"]["trades"].values(), key=lambda t: t["created_at"], reverse=True)
    return render_template(
        "sandbox/alipay_qr.html", trade=trade, message=message, yuan=alipay.yuan, orders=orders[:20]
    ), 404 if token and trade is None else 200
