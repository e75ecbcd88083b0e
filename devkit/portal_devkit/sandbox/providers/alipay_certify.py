"""Alipay identity verification (实名认证) on the sandbox's gateway: initialize, the certify page jump
with a phone-like page, and query; plus its control API at /_sandbox/alipay/certify.

- ``alipay.user.certify.open.initialize``: biz ``outer_order_no`` (≤32), ``biz_code``,
  ``identity_param`` and ``merchant_config`` (JSON objects, not strings) → ``certify_id``.
- ``alipay.user.certify.open.certify``: the signed gateway URL opens the phone page
  (``/alipay/certify/<certify_id>``): Pass, Fail or Abandon as a persona. Pass and Fail return to
  ``merchant_config.return_url`` with no result attached; Abandon returns nowhere.
- ``alipay.user.certify.open.query``: ``passed`` T or F (F also while unfinished; ``fail_reason`` once
  failed); 40004 ``OPEN_CERTIFY_BILL_NOT_EXIST`` for an unknown or expired certify_id.

Control: ``GET /_sandbox/alipay/certify/<certify_id>``; ``POST .../<certify_id>/finish
{"result": "pass"|"fail"|"abandon"}``; ``POST .../<certify_id>/expire`` (its lifetime ends now);
``POST .../<certify_id>/fault {"fault": "bad_signature"|null}`` (answers about it are then signed
with a key that is not Alipay's).
"""
from __future__ import annotations

import json
import secrets
from datetime import timedelta

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request
from stdnum.cn import ric

from portal_devkit.sandbox.providers import alipay

CERTIFY_LIFETIME = timedelta(hours=23)  # [policy] a certify_id lives under a day
BIZ_CODES = ("FACE", "CERT_PHOTO", "CERT_PHOTO_FACE", "SMART_FACE")
FAIL_REASON = "人脸比对不一致"  # [policy] the wording of the Fail persona
CONTROL = "/_sandbox/alipay/certify"

bp = Blueprint("sandbox_alipay_certify", __name__)


def setup(sandbox):
    sandbox.state["alipay_certify"] = {"bills": {}, "faults": {}}


def plugin_settings(sandbox):
    # Identity verification runs as the app in certificate mode, so that mode is exercised end to end.
    return {"alipay_certify": alipay.certificate_settings(sandbox)}


def _state():
    return alipay.current_sandbox().state["alipay_certify"]


def _bill(certify_id) -> dict | None:
    """The bill, or None when it does not exist or its certify_id expired."""
    bill = _state()["bills"].get(certify_id) if isinstance(certify_id, str) else None
    if bill is None or alipay.current_sandbox().now() >= bill["expires_at"]:
        return None
    return bill


def _bad(message: str) -> dict:
    return {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-parameter", "sub_msg": message}


def initialize(biz: dict, params: dict) -> dict:
    outer_order_no, identity, merchant = biz.get("outer_order_no"), biz.get("identity_param"), biz.get("merchant_config")
    if not isinstance(outer_order_no, str) or not 1 <= len(outer_order_no) <= 32:
        return _bad("outer_order_no 须为 1 到 32 个字符")
    if biz.get("biz_code") not in BIZ_CODES:
        return _bad("biz_code 不合法")
    if not isinstance(identity, dict):
        return _bad("identity_param 须为 JSON 对象")
    if (identity.get("identity_type"), identity.get("cert_type")) != ("CERT_INFO", "IDENTITY_CARD"):
        return _bad("identity_type 须为 CERT_INFO，cert_type 须为 IDENTITY_CARD")
    if not identity.get("cert_name") or not identity.get("cert_no"):
        return _bad("cert_name 与 cert_no 不能为空")
    if not isinstance(merchant, dict) or not merchant.get("return_url"):
        return _bad("merchant_config 须为含 return_url 的 JSON 对象")
    state, now = _state(), alipay.current_sandbox().now()
    for bill in state["bills"].values():
        if bill["outer_order_no"] == outer_order_no and bill["app_id"] == params["app_id"]:
            if bill["biz"] != biz:  # [policy] the same order number with other parameters
                return alipay._failed("OUTER_ORDER_NO_DUPLICATE", "外部订单号重复")
            return {"code": "10000", "msg": "Success", "certify_id": bill["certify_id"]}
    certify_id = secrets.token_hex(16)
    state["bills"][certify_id] = {
        "certify_id": certify_id, "outer_order_no": outer_order_no, "app_id": params["app_id"], "biz": biz,
        "cert_name": identity["cert_name"], "cert_no": identity["cert_no"],
        "return_url": merchant["return_url"], "created_at": now, "expires_at": now + CERTIFY_LIFETIME,
        "result": None, "fail_reason": None,
    }
    return {"code": "10000", "msg": "Success", "certify_id": certify_id}


def query(biz: dict, params: dict) -> dict:
    bill = _bill(biz.get("certify_id"))
    if bill is None or bill["app_id"] != params["app_id"]:
        return alipay._failed("OPEN_CERTIFY_BILL_NOT_EXIST", "认证单据不存在或已过期")
    if _state()["faults"].get(bill["certify_id"]) == "bad_signature":
        g.alipay_forged = True
    answer = {"code": "10000", "msg": "Success", "passed": "T" if bill["result"] == "pass" else "F"}
    if bill["result"] == "pass":
        answer["material_info"] = "{}"
    if bill["result"] == "fail":
        answer["fail_reason"] = bill["fail_reason"]
    return answer


def certify_page(params: dict):
    """The page jump: a signed URL whose biz_content names the certify_id, opened on the phone."""
    try:
        certify_id = json.loads(params.get("biz_content") or "{}").get("certify_id")
    except (ValueError, AttributeError):
        certify_id = None
    bill = _bill(certify_id)
    if bill is None or bill["app_id"] != params.get("app_id"):
        return render_template("sandbox/alipay_certify.html", bill=None), 400
    return redirect(f"/alipay/certify/{certify_id}")


def _masked(bill: dict) -> dict:
    name, number = bill["cert_name"], bill["cert_no"]
    return {**bill, "name": name[0] + "*" * (len(name) - 1), "number": number[:4] + "*" * 10 + number[-4:]}


def finish(bill: dict, result: str) -> None:
    """The person passes, fails or abandons (a bad checksum can only fail)."""
    if result not in ("pass", "fail", "abandon"):
        raise ValueError("result must be pass, fail or abandon")
    if result == "pass" and not ric.is_valid(bill["cert_no"]):
        result = "fail"
    if bill["result"] in ("pass", "fail"):
        return  # decided once
    bill["result"] = None if result == "abandon" else result
    bill["fail_reason"] = FAIL_REASON if result == "fail" else None


@bp.route("/alipay/certify/<certify_id>", methods=["GET", "POST"])
def phone_page(certify_id):
    sandbox = alipay.current_sandbox()
    with sandbox.lock:
        bill = _bill(certify_id)
        if bill is None:
            return render_template("sandbox/alipay_certify.html", bill=None), 404
        if request.method == "POST":
            result = request.form.get("result", "")
            try:
                finish(bill, result)
            except ValueError:
                abort(400)
            if result != "abandon":
                return redirect(bill["return_url"])
            return render_template("sandbox/alipay_certify.html", bill=_masked(bill), abandoned=True)
        return render_template("sandbox/alipay_certify.html", bill=_masked(bill),
                               checksum_ok=ric.is_valid(bill["cert_no"]))


@bp.get(CONTROL + "/<certify_id>")
def show_bill(certify_id):
    with alipay.current_sandbox().lock:
        bill = _bill(certify_id)
        if bill is None:
            return jsonify(error="OPEN_CERTIFY_BILL_NOT_EXIST"), 404
        masked = _masked(bill)
        return jsonify(certify_id=certify_id, outer_order_no=bill["outer_order_no"], result=bill["result"],
                       name=masked["name"], cert_no=masked["number"], return_url=bill["return_url"],
                       expires_at=bill["expires_at"].isoformat())


@bp.post(CONTROL + "/<certify_id>/finish")
def finish_bill(certify_id):
    with alipay.current_sandbox().lock:
        bill = _bill(certify_id)
        if bill is None:
            return jsonify(error="OPEN_CERTIFY_BILL_NOT_EXIST"), 404
        try:
            finish(bill, (request.get_json(silent=True) or {}).get("result"))
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(result=bill["result"], fail_reason=bill["fail_reason"])


@bp.post(CONTROL + "/<certify_id>/expire")
def expire_bill(certify_id):
    """The certify_id's lifetime ends now: queries answer OPEN_CERTIFY_BILL_NOT_EXIST."""
    sandbox = alipay.current_sandbox()
    with sandbox.lock:
        bill = _state()["bills"].get(certify_id)
        if bill is None:
            return jsonify(error="OPEN_CERTIFY_BILL_NOT_EXIST"), 404
        bill["expires_at"] = sandbox.now()
        return jsonify(certify_id=certify_id, expires_at=bill["expires_at"].isoformat())


@bp.post(CONTROL + "/<certify_id>/fault")
def set_fault(certify_id):
    fault = (request.get_json(silent=True) or {}).get("fault")
    if fault not in (None, "bad_signature"):
        return jsonify(error="fault must be bad_signature or null"), 400
    with alipay.current_sandbox().lock:
        _state()["faults"][certify_id] = fault
    return jsonify(certify_id=certify_id, fault=fault)


alipay.METHODS.update({
    "alipay.user.certify.open.initialize": initialize,
    "alipay.user.certify.open.query": query,
})
alipay.PAGES["alipay.user.certify.open.certify"] = certify_page
