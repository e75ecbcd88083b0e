"""WeChat Pay buyer's phone: open /wxpay/_scan/ to scan and pay an order (Pay sends the notification).

Paying an order, the encrypted payment notification it triggers, and the phone-like page behind the
QR code (``weixin://wxpay/bizpayurl?pr=<token>`` -> ``/wxpay/_scan/<token>``).
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Blueprint, redirect, render_template, request

from portal_devkit.sandbox.notify import Faults, Notification
from portal_devkit.sandbox.providers import wechatpay

bp = Blueprint("sandbox_wechatpay_buyer", __name__)


def pay(sandbox, out_trade_no: str, amount: int | None = None, faults: Faults | None = None) -> dict:
    """The buyer pays ``amount`` fen (default: the order's); returns the transaction or raises ValueError."""
    state = sandbox.state["wechatpay"]
    with sandbox.lock:
        order = state["orders"].get(out_trade_no)
        if order is None:
            raise ValueError("ORDER_NOT_EXIST")
        if order["trade_state"] == "NOTPAY" and sandbox.now() >= order["time_expire"]:
            order["trade_state"] = "CLOSED"
        if order["trade_state"] != "NOTPAY":
            raise ValueError(f"order is {order['trade_state']}")
        paid = order["total"] if amount is None else amount
        if type(paid) is not int or paid <= 0:
            raise ValueError("amount must be a positive integer (fen)")
        order.update(
            trade_state="SUCCESS",
            scanned=True,
            total=paid,
            payer_total=paid,
            success_time=sandbox.now(),
            payer_openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            transaction_id="4200" + sandbox.now().strftime("%Y%m%d") + f"{secrets.randbelow(10**16):016d}",
        )
        resource = _transaction_for(sandbox, order)
    state["notifier"].deliver(
        Notification(
            out_trade_no,
            order["notify_url"],
            _notification_renderer(sandbox, resource, faults or Faults()),
            faults or Faults(),
        )
    )
    return resource


def _transaction_for(sandbox, order: dict) -> dict:
    with sandbox.app.app_context():
        return wechatpay.transaction(order)


def _notification_renderer(sandbox, resource: dict, faults: Faults):
    resource = json.loads(json.dumps(resource))
    if faults.tamper_amount is not None:
        resource["amount"].update(total=faults.tamper_amount, payer_total=faults.tamper_amount)
    if faults.foreign_merchant:
        resource["mchid"] = wechatpay.FOREIGN_MCHID
    body = json.dumps(encrypted_envelope(sandbox, json.dumps(resource, ensure_ascii=False)), ensure_ascii=False)

    def render(now: datetime) -> tuple[dict, bytes]:
        headers = sign_body(
            sandbox,
            body,
            now - timedelta(minutes=10) if faults.stale else now,
            "WECHATPAY/SIGNTEST/" if faults.signtest else "",
        )
        if faults.bad_signature:
            signature = bytearray(base64.b64decode(headers["Wechatpay-Signature"]))
            signature[0] ^= 0xFF
            headers["Wechatpay-Signature"] = base64.b64encode(bytes(signature)).decode()
        return headers, body.encode()

    return render


def encrypted_envelope(sandbox, plaintext: str) -> dict:
    """A TRANSACTION.SUCCESS notification's body around ``plaintext`` (the transaction's JSON text),
    encrypted with the APIv3 key as WeChat Pay does."""
    nonce = secrets.token_urlsafe(9)[:12]
    ciphertext = AESGCM(sandbox.state["wechatpay"]["apiv3_key"].encode()).encrypt(
        nonce.encode(), plaintext.encode(), b"transaction"
    )
    return {
        "id": "EV-" + secrets.token_hex(16),
        "create_time": wechatpay.rfc3339(sandbox.now()),
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": "transaction",
            "nonce": nonce,
        },
    }


def sign_body(sandbox, body: str, now: datetime | None = None, signature_prefix: str = "") -> dict:
    """The headers of a notification carrying ``body``, validly signed with the platform key."""
    with sandbox.app.app_context():
        headers = wechatpay.signed_headers(body, now or sandbox.now(), signature_prefix)
    headers["Content-Type"] = "application/json"
    return headers


# The phone-like page behind the QR code.


@bp.get(wechatpay.PREFIX + "/_scan/")
def scan_index():
    orders = sorted(wechatpay.current_state()["orders"].values(), key=lambda o: o["created_at"], reverse=True)
    return render_template(
        "sandbox/wechatpay_orders.html", orders=[wechatpay.expire_if_due(o) for o in orders[:50]]
    )


@bp.route(wechatpay.PREFIX + "/_scan/<token>", methods=["GET", "POST"])
def scan_page(token):
    state, sandbox = wechatpay.current_state(), wechatpay.current_sandbox()
    out_trade_no = state["tokens"].get(token)
    order = state["orders"].get(out_trade_no) if out_trade_no else None
    message = None
    if order is not None and request.method == "POST":
        action = request.form.get("action")
        if action == "pay":
            amount = request.form.get("amount", "").strip()
            try:
                pay(sandbox, out_trade_no, int(amount) if amount else None)
                return redirect(request.path)
            except ValueError as exc:
                message = str(exc)
        elif action == "cancel":
            message = "已取消支付，订单保持未支付状态"
        elif action == "scan":
            order["scanned"] = True
    if order is not None:
        with sandbox.lock:
            wechatpay.expire_if_due(order)
    return render_template("sandbox/wechatpay_scan.html", order=order, message=message), (
        200 if order else 404
    )
