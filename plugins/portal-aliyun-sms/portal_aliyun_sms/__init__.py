"""SMS delivery through Aliyun Dysmsapi ``SendSms``, signed as Aliyun's RPC APIs require."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import requests

from portal.plugins import DeliveryError, Setting, hookimpl, plugin_config

NAME = "aliyun_sms"
API_VERSION = "2017-05-25"
TIMEOUT_SECONDS = 10


@hookimpl
def portal_settings():
    required = {"endpoint": "url", "access_key_id": "str", "access_key_secret": "secret", "sign_name": "str",
                "template_code": "str"}
    optional = ("template_variables", "template_code_en", "template_code_international", "notice_template_code",
                "notice_template_code_en", "notice_template_code_international")
    return {**{key: Setting(kind, required=True) for key, kind in required.items()},
            **{key: Setting("str") for key in optional}}


@hookimpl
def portal_message_channels():
    return ["sms"]


@hookimpl
def portal_send_verification_code(channel, destination, code, purpose_label, minutes, locale):
    """The code template's variables: ``${code}`` always; ``${purpose}`` (what the code is for) and
    ``${minutes}`` (how long it is valid) when ``template_variables`` names them ("code,purpose,minutes"),
    so a template approved with ``${code}`` alone keeps working."""
    if channel != "sms":
        return None
    settings = plugin_config(NAME)
    values = {"code": code, "purpose": purpose_label, "minutes": str(minutes)}
    params = {
        "Action": "SendSms",
        "PhoneNumbers": aliyun_phone_number(destination),
        "SignName": settings["sign_name"],
        "TemplateCode": template_code(settings, destination, locale),
        "TemplateParam": json.dumps({name: values[name] for name in template_variables(settings)},
                                    ensure_ascii=False, separators=(",", ":")),
    }
    return call(settings, params)["BizId"]


def template_variables(settings: dict) -> list[str]:
    known = ("code", "purpose", "minutes")
    named = [name.strip() for name in (settings.get("template_variables") or "code").split(",")]
    return ["code"] + [name for name in known[1:] if name in named]


@hookimpl
def portal_send_notice(channel, destination, summary, locale):
    """Security notices go out with the operator's notice template (``notice_template_code``, a
    template with one variable, ``${change}``); without one this plugin sends none."""
    if channel != "sms":
        return None
    settings = plugin_config(NAME)
    template = notice_template_code(settings, destination, locale)
    if not template:
        return None
    params = {
        "Action": "SendSms",
        "PhoneNumbers": aliyun_phone_number(destination),
        "SignName": settings["sign_name"],
        "TemplateCode": template,
        "TemplateParam": json.dumps({"change": summary}, ensure_ascii=False, separators=(",", ":")),
    }
    return call(settings, params)["BizId"]


def notice_template_code(settings: dict, destination: str, locale: str) -> str | None:
    if not destination.startswith("+86"):
        return settings.get("notice_template_code_international")
    if (locale or "").startswith("en") and settings.get("notice_template_code_en"):
        return settings["notice_template_code_en"]
    return settings.get("notice_template_code")


def aliyun_phone_number(e164: str) -> str:
    """Aliyun wants mainland numbers bare (13800138000) and others as country code + number."""
    digits = e164.removeprefix("+")
    return digits[2:] if digits.startswith("86") else digits


def template_code(settings: dict, destination: str, locale: str) -> str:
    if not destination.startswith("+86") and settings.get("template_code_international"):
        return settings["template_code_international"]
    if (locale or "").startswith("en") and settings.get("template_code_en"):
        return settings["template_code_en"]
    return settings["template_code"]


def percent_encode(value) -> str:
    # Aliyun's encoding is RFC 3986: space is %20, "*" is %2A, "~" is left alone.
    return quote(str(value), safe="~")


def sign(params: dict, secret: str, method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    text = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_params(settings: dict, params: dict, now: datetime | None = None, method: str = "POST") -> dict:
    now = now or datetime.now(timezone.utc)
    signed = {
        "AccessKeyId": settings["access_key_id"],
        "Format": "JSON",
        "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": API_VERSION,
        **params,
    }
    signed["Signature"] = sign(signed, settings["access_key_secret"], method)
    return signed


def call(settings: dict, params: dict) -> dict:
    """POST one signed RPC request; return the answer, or raise DeliveryError with Aliyun's code.

    POST (a form body) rather than GET keeps the code out of URLs, and so out of access logs."""
    try:
        response = requests.post(settings["endpoint"], data=signed_params(settings, params),
                                 timeout=TIMEOUT_SECONDS)
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DeliveryError(f"Aliyun SMS unreachable: {exc.__class__.__name__}") from None
    if not isinstance(answer, dict) or answer.get("Code") != "OK":
        # Only the error code: Aliyun's messages may quote the request, and with it the code.
        code = answer.get("Code") if isinstance(answer, dict) else None
        request_id = answer.get("RequestId") if isinstance(answer, dict) else None
        raise DeliveryError(
            f"Aliyun SMS refused the message: {code or response.status_code} (RequestId {request_id})"
        )
    return answer
