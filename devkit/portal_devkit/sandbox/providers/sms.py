"""Aliyun SMS (Dysmsapi SendSms): RPC-signed API; accepted messages appear at /mail/."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import quote

from flask import Blueprint, current_app, jsonify, request

from portal_devkit.sandbox.providers.mail import record_message

bp = Blueprint("sms", __name__, url_prefix="/dysmsapi")

SIGN_NAME = "Portal"
# Template code -> (text, scope). Mainland templates go to mainland numbers (13800138000); the
# international ones to "country code + number" (85291234567), as with Aliyun's own templates.
TEMPLATES = {
    "SMS_480000001": ("您的${purpose}验证码为：${code}，${minutes}分钟内有效，请勿泄露于他人。", "mainland"),
    "SMS_480000002": ("Your verification code for ${purpose} is ${code}. It is valid for ${minutes} minutes. "
                      "Do not share it.", "mainland"),
    "SMS_480000003": ("Your verification code for ${purpose} is ${code}. It is valid for ${minutes} minutes. "
                      "Do not share it.", "international"),
    # Security notices (a notification template with one variable).
    "SMS_480000011": ("您的账号安全信息已变更：${change} 如非本人操作，请立即修改密码并联系客服。", "mainland"),
    "SMS_480000012": ("Your account was changed: ${change} If it was not you, change your password now "
                      "and contact support.", "mainland"),
}
TIMESTAMP_TOLERANCE = timedelta(minutes=15)
# Aliyun's default flow control per phone number and signature.
PHONE_LIMITS = ((timedelta(minutes=1), 1, "触发号码分钟级流控Permits:1"),
                (timedelta(hours=1), 5, "触发号码小时级流控Permits:5"),
                (timedelta(days=1), 10, "触发号码天级流控Permits:10"))
MAINLAND = re.compile(r"(?:86)?(1[3-9][0-9]{9})")
INTERNATIONAL = re.compile(r"(?!86)[1-9][0-9]{7,14}")
COMMON_PARAMETERS = ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce",
                     "SignatureVersion", "Timestamp", "Version", "Signature")


def percent_encode(value: str) -> str:
    # RFC 3986: space is %20, "*" is %2A, "~" stays as it is.
    return quote(str(value), safe="~")


def string_to_sign(method: str, params: dict) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(secret: str, text: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def setup(sandbox) -> None:
    sandbox.state.setdefault("sms", {
        "access_keys": {"LTAI5tSandbox" + secrets.token_hex(6): secrets.token_urlsafe(24)},
        "nonces": set(),
        "sent_at": defaultdict(list),
        # Fault injection: the business error code the next SendSms answers with.
        "fail_next": None,
        # Aliyun's per-phone flow control. Off by default: the sandbox outlives many portal apps
        # (a test session), whose own limits already apply; turn it on to see the real refusal.
        "flow_control": False,
    })


def plugin_settings(sandbox) -> dict:
    key_id, key_secret = next(iter(sandbox.state["sms"]["access_keys"].items()))
    return {
        "aliyun_sms": {
            "endpoint": f"{sandbox.url}/dysmsapi/",
            "access_key_id": key_id,
            "access_key_secret": key_secret,
            "sign_name": SIGN_NAME,
            "template_code": "SMS_480000001",
            "template_variables": "code,purpose,minutes",
            "template_code_en": "SMS_480000002",
            "template_code_international": "SMS_480000003",
            "notice_template_code": "SMS_480000011",
            "notice_template_code_en": "SMS_480000012",
        }
    }


def _error(status: int, code: str, message: str, **extra):
    body = {"RequestId": str(uuid.uuid4()).upper(), "HostId": "dysmsapi.aliyuncs.com", "Code": code,
            "Message": message, **extra}
    return jsonify(body), status


def _business_error(code: str, message: str):
    # Business errors come back as HTTP 200 with a Code other than "OK".
    return jsonify({"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message}), 200


@bp.route("/", methods=["GET", "POST"])
def rpc():
    sandbox = current_app.extensions["sandbox"]
    state = sandbox.state["sms"]
    params = request.args.to_dict()
    if request.method == "POST":
        params.update(request.form.to_dict())

    missing = [name for name in COMMON_PARAMETERS if not params.get(name)]
    if missing:
        return _error(400, "MissingParameter", f"The input parameter \"{missing[0]}\" that is mandatory "
                                               "for processing this request is not supplied.")
    if params["Action"] != "SendSms":
        return _error(404, "InvalidAction.NotFound",
                      "Specified api is not found, please check your url and method.")
    secret = state["access_keys"].get(params["AccessKeyId"])
    if secret is None:
        return _error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
        return _error(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
    try:
        sent_at = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return _error(400, "InvalidTimeStamp.Format",
                      "Specified time stamp or date value is not well formatted.")
    if abs(sandbox.now() - sent_at) > TIMESTAMP_TOLERANCE:
        return _error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    text = string_to_sign(request.method, params)
    if not hmac.compare_digest(signature(secret, text), params["Signature"]):
        return _error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our "
                                                    f"calculation. server string to sign is:{text}")
    with sandbox.lock:
        if params["SignatureNonce"] in state["nonces"]:
            return _error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        state["nonces"].add(params["SignatureNonce"])
    return _send_sms(sandbox, state, params)


def _send_sms(sandbox, state, params):
    for name in ("PhoneNumbers", "SignName", "TemplateCode"):
        if not params.get(name):
            return _error(400, "MissingParameter", f"The input parameter \"{name}\" that is mandatory "
                                                   "for processing this request is not supplied.")
    if params["SignName"] != SIGN_NAME:
        return _business_error("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
    if params["TemplateCode"] not in TEMPLATES:
        return _business_error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
    template, scope = TEMPLATES[params["TemplateCode"]]
    phone = params["PhoneNumbers"]
    if scope == "mainland":
        mainland = MAINLAND.fullmatch(phone)
        if not mainland:
            return _business_error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        e164 = f"+86{mainland.group(1)}"
    else:
        if not INTERNATIONAL.fullmatch(phone):
            return _business_error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        e164 = f"+{phone}"
    try:
        template_params = json.loads(params.get("TemplateParam") or "{}")
    except ValueError:
        return _business_error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    if not isinstance(template_params, dict) or not all(isinstance(v, str) for v in template_params.values()):
        return _business_error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    names = re.findall(r"\$\{(\w+)\}", template)
    if any(name not in template_params for name in names):
        return _business_error("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")

    now = sandbox.now()
    with sandbox.lock:
        if state["fail_next"]:
            code, state["fail_next"] = state["fail_next"], None
            return _business_error(code, "sandbox: injected failure")
        history = state["sent_at"][e164]
        for window, permits, message in PHONE_LIMITS if state["flow_control"] else ():
            if sum(1 for t in history if now - t < window) >= permits:
                return _business_error("isv.BUSINESS_LIMIT_CONTROL", message)
        history.append(now)
    body = f"【{params['SignName']}】" + re.sub(r"\$\{(\w+)\}", lambda m: template_params[m.group(1)], template)
    biz_id = f"{secrets.randbelow(10 ** 6):06d}{int(now.timestamp())}^0"
    record_message(sandbox, "sms", e164, "", body, template_code=params["TemplateCode"], biz_id=biz_id)
    return jsonify({"Message": "OK", "RequestId": str(uuid.uuid4()).upper(), "Code": "OK", "BizId": biz_id})
