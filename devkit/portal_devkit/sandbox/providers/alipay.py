"""Alipay OpenAPI gateway at /alipay/gateway.do: face-to-face precreate, query, close, RSA2 both ways.

Requests are verified like the real gateway does (RSA2 over the sorted raw parameters, app key);
responses are signed with the platform key over the exact bytes of the inner object as embedded.
A precreated trade exists only once the buyer scans its QR code (``alipay_buyer``: scanning, paying,
notifications, the phone-like page); the control API for tests is in ``alipay_control``.

Two apps: ``APP_ID`` in public-key mode and ``CERT_APP_ID`` in certificate mode (``alipay_certs``),
whose every request must carry ``app_cert_sn`` and ``alipay_root_cert_sn`` and whose answers carry
``alipay_cert_sn``. Other modules add methods to ``METHODS`` (JSON answers) and ``PAGES`` (page jumps
the browser opens, such as ``alipay.user.certify.open.certify``).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Blueprint, Response, current_app, g, request

from portal_devkit.sandbox import alipay_certs
from portal_devkit.sandbox.keys import new_rsa_key, private_pem, public_pem
from portal_devkit.sandbox.notify import ALIPAY_RETRY_SCHEDULE, Notifier, in_outage

GATEWAY = "/alipay/gateway.do"
APP_ID = "2021004112345678"
CERT_APP_ID = "2021004112349999"
SELLER_ID = "2088721012345678"
FOREIGN_SELLER_ID = "2088000000009999"
BUYER = {"buyer_id": "2088102177846880", "buyer_logon_id": "cus***@sandbox.com"}
TIMESTAMP_SKEW = timedelta(minutes=15)  # [policy]
DEFAULT_TIMEOUT = timedelta(hours=2)  # [policy] payable window after the scan
MAX_AMOUNT = Decimal("100000000")
TIMEOUT_EXPRESS = re.compile(r"([1-9]\d*)([mhdc])")
CHINA = timezone(timedelta(hours=8))

bp = Blueprint("sandbox_alipay", __name__)


def setup(sandbox):
    platform_key, cert_app_key = new_rsa_key(), new_rsa_key()
    sandbox.state["alipay"] = {
        "app_key": new_rsa_key(),
        "cert_app_key": cert_app_key,
        "platform_key": platform_key,
        # Signs answers a fault marks as forged (g.alipay_forged): a valid signature, not Alipay's.
        "forger_key": new_rsa_key(),
        "certs": alipay_certs.issue_all(cert_app_key, platform_key),
        "trades": {},  # out_trade_no -> trade dict (precreated; "scanned" once the buyer scanned)
        "tokens": {},  # QR token -> out_trade_no
        "notifier": Notifier(
            sandbox, ALIPAY_RETRY_SCHEDULE, lambda status, body: status == 200 and body == b"success"
        ),
    }


def stop(sandbox):
    sandbox.state["alipay"]["notifier"].stop()


def plugin_settings(sandbox):
    state = sandbox.state["alipay"]
    return {
        "alipay": {
            "gateway": sandbox.url + GATEWAY,
            "app_id": APP_ID,
            "seller_id": SELLER_ID,
            "app_private_key": private_pem(state["app_key"]),
            "alipay_public_key": public_pem(state["platform_key"]),
        }
    }


def certificate_settings(sandbox) -> dict:
    """Settings for the app in certificate mode (plugins that use it take these instead)."""
    state = sandbox.state["alipay"]
    return {
        "gateway": sandbox.url + GATEWAY,
        "app_id": CERT_APP_ID,
        "app_private_key": private_pem(state["cert_app_key"]),
        "app_cert": state["certs"]["app_cert_pem"],
        "alipay_cert": state["certs"]["alipay_cert_pem"],
        "alipay_root_cert": state["certs"]["root_pem"],
    }


def china_time(moment: datetime) -> str:
    """A naive UTC moment as Alipay writes it: GMT+8, ``yyyy-MM-dd HH:mm:ss``."""
    return moment.replace(tzinfo=timezone.utc).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def parse_china_time(text: str) -> datetime:
    return (
        datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        .replace(tzinfo=CHINA)
        .astimezone(timezone.utc)
        .replace(tzinfo=None)
    )


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def signing_string(params: dict) -> str:
    """Alipay's signed string: the non-empty parameters given, sorted, as raw ``k=v`` joined by ``&``."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if params[key] not in (None, ""))


def sign(sandbox, message: str, key_name: str = "platform_key") -> str:
    signature = sandbox.state["alipay"][key_name].sign(
        message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return base64.b64encode(signature).decode()


def sign_notification(sandbox, fields: dict) -> dict:
    """``fields`` plus ``sign_type`` and ``sign``: RSA2 over the sorted fields, as in notifications."""
    unsigned = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}
    return {**unsigned, "sign_type": "RSA2", "sign": sign(sandbox, signing_string(unsigned))}


def current_sandbox():
    return current_app.extensions["sandbox"]


def _reply(method: str, inner: dict, signed: bool = True) -> Response:
    key = method.replace(".", "_") + "_response" if method else "error_response"
    # Serialized once: the signature covers these exact bytes, which clients cut out of the body.
    content = json.dumps(inner, ensure_ascii=False, separators=(",", ":"))
    body = '{"' + key + '":' + content
    if g.get("alipay_cert_sn"):
        body += ',"alipay_cert_sn":"' + g.alipay_cert_sn + '"'
    key_name = "forger_key" if g.get("alipay_forged") else "platform_key"
    body += (',"sign":"' + sign(current_sandbox(), content, key_name) + '"}') if signed else "}"
    return Response(body.encode(), content_type="application/json;charset=utf-8")


def _invalid(method: str, sub_code: str, sub_msg: str) -> Response:
    inner = {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg}
    return _reply(method, inner, signed=False)


def _failed(sub_code: str, sub_msg: str, **extra) -> dict:
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg, **extra}


def _app_key(params: dict):
    """The key that signs requests of the app named in ``params``, or an error answer."""
    state = current_sandbox().state["alipay"]
    method = params.get("method", "")
    if params.get("app_id") == APP_ID:
        return state["app_key"], None
    if params.get("app_id") != CERT_APP_ID:
        return None, _invalid(method, "isv.invalid-app-id", "无效的AppID参数")
    # Certificate mode: every call names both certificates, and answers name Alipay's.
    certs = state["certs"]
    if not params.get("app_cert_sn"):
        return None, _invalid(method, "isv.missing-app-cert-sn", "缺少应用公钥证书序列号")
    if not params.get("alipay_root_cert_sn"):
        return None, _invalid(method, "isv.missing-alipay-root-cert-sn", "缺少支付宝根证书序列号")
    if params["app_cert_sn"] != certs["app_cert_sn"]:  # [policy] sub_code
        return None, _invalid(method, "isv.invalid-app-cert-sn", "应用公钥证书序列号不匹配")
    if params["alipay_root_cert_sn"] != certs["root_sn"]:  # [policy] sub_code
        return None, _invalid(method, "isv.invalid-alipay-root-cert-sn", "支付宝根证书序列号不匹配")
    g.alipay_cert_sn = certs["alipay_cert_sn"]
    return state["cert_app_key"], None


@bp.route(GATEWAY, methods=["GET", "POST"])
def gateway():
    params = {**request.args.to_dict(), **request.form.to_dict()}
    method = params.get("method", "")
    app_key, refusal = _app_key(params)
    if refusal is not None:
        return refusal
    if params.get("sign_type") != "RSA2" or params.get("charset", "utf-8").lower() != "utf-8":
        return _invalid(method, "isv.invalid-signature-type", "无效的签名类型或字符集")
    try:
        skew = abs(parse_china_time(params.get("timestamp", "")) - current_sandbox().now())
    except ValueError:
        return _invalid(method, "isv.invalid-timestamp", "非法的时间戳参数")
    if skew > TIMESTAMP_SKEW:
        return _invalid(method, "isv.invalid-timestamp", "时间戳与系统时间相差过大")
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    try:
        app_key.public_key().verify(
            base64.b64decode(params.get("sign", "")),
            signing_string(unsigned).encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return _invalid(method, "isv.invalid-signature", "验签出错")
    if method in PAGES:
        return PAGES[method](params)
    handler = METHODS.get(method)
    if handler is None:
        return _invalid(method, "isv.invalid-method", "不存在的方法名")
    try:
        biz = json.loads(params.get("biz_content") or "{}")
    except ValueError:
        biz = None
    if not isinstance(biz, dict):
        return _invalid(method, "isv.invalid-parameter", "biz_content 须为 JSON 对象")
    if in_outage(current_sandbox(), "alipay"):
        return _reply(
            method, {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"}
        )
    with current_sandbox().lock:
        answer = handler(biz, params)
        # Handlers mark Alipay's unsigned 40002 answers (and the OAuth ones' error_response key).
        response = _reply("" if g.pop("alipay_error_response", False) else method, answer,
                          signed=not g.pop("alipay_unsigned", False))
    # A fault (alipay_refunds' "timeout"): the call was made, its answer comes too late.
    delay = g.pop("alipay_answer_delay", 0)
    if delay:
        time.sleep(delay)
    return response


def _amount(value) -> tuple[Decimal | None, str]:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None, "ACQ.INVALID_PARAMETER"
    if not amount.is_finite() or amount.as_tuple().exponent < -2 or amount < Decimal("0.01"):
        return None, "ACQ.INVALID_PARAMETER"
    if amount > MAX_AMOUNT:
        return None, "ACQ.TOTAL_FEE_EXCEED"
    return amount.quantize(Decimal("0.01")), ""


def payable_until(biz: dict, start: datetime) -> datetime | None:
    """The deadline from ``timeout_express`` (after ``start``) and ``time_expire``; ValueError if bad."""
    deadlines = []
    if biz.get("time_expire"):
        deadlines.append(parse_china_time(biz["time_expire"]))
    if biz.get("timeout_express"):
        match = TIMEOUT_EXPRESS.fullmatch(str(biz["timeout_express"]))
        if not match:
            raise ValueError("timeout_express")
        number, unit = int(match.group(1)), match.group(2)
        if unit == "c":  # the end of the day it started
            deadlines.append(parse_china_time(china_time(start)[:10] + " 23:59:59"))
        else:
            deadlines.append(start + timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: number}))
    return min(deadlines) if deadlines else None


def close_if_due(trade: dict, now: datetime) -> dict:
    if trade["status"] == "WAIT_BUYER_PAY" and trade["expires_at"] and now >= trade["expires_at"]:
        trade["status"] = "TRADE_CLOSED"
    return trade


def precreate(biz: dict, params: dict) -> dict:
    sandbox = current_sandbox()
    out_trade_no, subject = biz.get("out_trade_no"), biz.get("subject")
    if not isinstance(out_trade_no, str) or not 1 <= len(out_trade_no) <= 64:
        return _failed("ACQ.INVALID_PARAMETER", "out_trade_no 须为 1 到 64 个字符")
    if not isinstance(subject, str) or not 1 <= len(subject) <= 256:
        return _failed("ACQ.INVALID_PARAMETER", "subject 须为 1 到 256 个字符")
    amount, problem = _amount(biz.get("total_amount"))
    if amount is None:
        return _failed(problem, "订单金额须为 0.01 到 100000000.00 元，最多两位小数")
    try:
        payable_until(biz, sandbox.now())
    except ValueError:
        return _failed("ACQ.INVALID_PARAMETER", "time_expire 或 timeout_express 格式错误")
    state = sandbox.state["alipay"]
    context = {"biz": biz, "notify_url": params.get("notify_url")}
    trade = state["trades"].get(out_trade_no)
    if trade is not None:
        close_if_due(trade, sandbox.now())
        if trade["status"] == "TRADE_SUCCESS":
            return _failed("ACQ.TRADE_HAS_SUCCESS", "交易已被支付", out_trade_no=out_trade_no)
        if trade["status"] in ("TRADE_CLOSED", "PRECREATED_CLOSED"):
            return _failed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭", out_trade_no=out_trade_no)
        if trade["context"] != context:
            return _failed("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改", out_trade_no=out_trade_no)
        return {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "qr_code": trade["qr_code"]}
    token = secrets.token_urlsafe(12)
    trade = {
        "context": context,
        "out_trade_no": out_trade_no,
        "subject": subject,
        "amount": amount,
        "notify_url": params.get("notify_url"),
        "token": token,
        "qr_code": f"{sandbox.url}/alipay/qr/{token}",
        "status": "PRECREATED",
        "trade_no": None,
        "created_at": sandbox.now(),
        "scanned_at": None,
        "expires_at": None,
        "paid_at": None,
        "paid_amount": None,
    }
    state["trades"][out_trade_no], state["tokens"][token] = trade, out_trade_no
    return {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "qr_code": trade["qr_code"]}


def _find(biz: dict) -> dict | None:
    trades = current_sandbox().state["alipay"]["trades"]
    trade = (
        trades.get(biz.get("out_trade_no"))
        if biz.get("out_trade_no")
        else next(
            (t for t in trades.values() if t["trade_no"] and t["trade_no"] == biz.get("trade_no")), None
        )
    )
    # Before the scan there is no trade at Alipay, only a QR code.
    if trade is None or trade["status"] in ("PRECREATED", "PRECREATED_CLOSED"):
        return None
    return close_if_due(trade, current_sandbox().now())


def query(biz: dict, params: dict) -> dict:
    trade = _find(biz)
    if trade is None:
        return _failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
    paid = trade["status"] in ("TRADE_SUCCESS", "TRADE_FINISHED")
    result = {
        "code": "10000",
        "msg": "Success",
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
        "trade_status": trade["status"],
        "total_amount": str(trade["paid_amount"] or trade["amount"]),
        "buyer_pay_amount": str(trade["paid_amount"]) if paid else "0.00",
        "point_amount": "0.00",
        "invoice_amount": str(trade["paid_amount"]) if paid else "0.00",
        "receipt_amount": str(trade["paid_amount"]) if paid else "0.00",
        "buyer_logon_id": BUYER["buyer_logon_id"],
        "buyer_user_id": BUYER["buyer_id"],
    }
    if paid:
        result["send_pay_date"] = china_time(trade["paid_at"])
    return result


def close(biz: dict, params: dict) -> dict:
    trades = current_sandbox().state["alipay"]["trades"]
    unscanned = trades.get(biz.get("out_trade_no"))
    if unscanned is not None and unscanned["status"] == "PRECREATED":
        # [policy] the QR code stops working, so a later scan cannot pay a closed order.
        unscanned["status"] = "PRECREATED_CLOSED"
    trade = _find(biz)
    if trade is None:
        return _failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
    if trade["status"] in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        return _failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法", out_trade_no=trade["out_trade_no"])
    trade["status"] = "TRADE_CLOSED"
    return {
        "code": "10000",
        "msg": "Success",
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
    }


METHODS = {"alipay.trade.precreate": precreate, "alipay.trade.query": query, "alipay.trade.close": close}
# Page jumps: signed like any call, answered with a page instead of JSON.
PAGES: dict = {}
