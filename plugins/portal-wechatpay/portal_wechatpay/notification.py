"""What a WeChat Pay payment or refund notification may contain: its documented fields, and nothing else.

Everything here runs before (the headers and the envelope) or right after (the decrypted
transaction) the signature check, and raises ValueError on the first thing out of place: an unknown
or repeated key, a wrong type, an absurd length. Nothing is guessed or skipped.
"""

from __future__ import annotations

import json
import re

# The signed headers, the shape of their values, and the one signature type WeChat Pay uses.
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
HEADER_PATTERNS = {
    "Wechatpay-Timestamp": re.compile(r"[0-9]{1,12}"),
    "Wechatpay-Nonce": re.compile(r"[0-9A-Za-z_-]{1,64}"),
    # Base64 of an RSA signature (2048-bit: 344 characters; 4096-bit: 684).
    "Wechatpay-Signature": re.compile(r"[A-Za-z0-9+/]{1,1024}={0,2}"),
    "Wechatpay-Serial": re.compile(r"[0-9A-Za-z_]{1,64}"),
    "Wechatpay-Signature-Type": re.compile(re.escape(SIGNATURE_TYPE)),
}

# A schema is {key: type or nested schema or [nested schema]}; every key is optional here, the
# channel checks the ones it needs. Strings are capped at STRING_MAX unless a schema says otherwise.
STRING_MAX = 256
ENVELOPE = {
    "id": str,
    "create_time": str,
    "event_type": str,
    "resource_type": str,
    "summary": str,
    "resource": {
        "original_type": str,
        "algorithm": str,
        # Base64 of the encrypted transaction, which is at most a few kilobytes.
        "ciphertext": (str, 32 * 1024),
        "associated_data": str,
        "nonce": str,
    },
}
GOODS_DETAIL = {"goods_id": str, "quantity": int, "unit_price": int, "discount_amount": int, "goods_remark": str}
PROMOTION_DETAIL = {
    "coupon_id": str,
    "name": str,
    "scope": str,
    "type": str,
    "amount": int,
    "stock_id": str,
    "wechatpay_contribute": int,
    "merchant_contribute": int,
    "other_contribute": int,
    "currency": str,
    "goods_detail": [GOODS_DETAIL],
}
TRANSACTION = {
    "appid": str,
    "mchid": str,
    "out_trade_no": str,
    "transaction_id": str,
    "trade_type": str,
    "trade_state": str,
    "trade_state_desc": str,
    "bank_type": str,
    "attach": str,
    "success_time": str,
    "payer": {"openid": str},
    "amount": {"total": int, "payer_total": int, "currency": str, "payer_currency": str},
    "scene_info": {"device_id": str},
    "promotion_detail": [PROMOTION_DETAIL],
}
# A refund notification's decrypted resource.
REFUND = {
    "mchid": str,
    "transaction_id": str,
    "out_trade_no": str,
    "refund_id": str,
    "out_refund_no": str,
    "refund_status": str,
    "success_time": str,
    "user_received_account": str,
    "amount": {"total": int, "refund": int, "payer_total": int, "payer_refund": int},
}
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_*-]{6,32}")
TRANSACTION_ID = re.compile(r"[0-9A-Za-z]{1,32}")
# The documented trade states of a transaction; only SUCCESS is a payment.
TRADE_STATES = ("SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR")
LIST_MAX = 50


def signed_headers(headers) -> dict:
    """The five signed headers (any case), each present and well-formed, or ValueError."""
    received = {str(key).lower(): value for key, value in dict(headers).items()}
    signed = {}
    for name, pattern in HEADER_PATTERNS.items():
        value = received.get(name.lower())
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"missing or malformed {name}")
        signed[name] = value
    return signed


def strict_json(text: str | bytes):
    """``json.loads`` that refuses repeated keys and NaN/Infinity, and accepts no float."""

    def pairs(items):
        found = {}
        for key, value in items:
            if key in found:
                raise ValueError(f"repeated key {key!r}")
            found[key] = value
        return found

    def refuse(value):
        raise ValueError(f"not a documented value: {value}")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=refuse, parse_float=refuse)


def check(value, schema: dict, where: str = "notification") -> dict:
    """``value`` is an object whose keys and types all follow ``schema``; returns it."""
    if not isinstance(value, dict):
        raise ValueError(f"{where} is not an object")
    unknown = set(value) - set(schema)
    if unknown:
        raise ValueError(f"undocumented field(s) in {where}: {', '.join(sorted(unknown))[:200]}")
    for key, spec in schema.items():
        if key in value:
            _check_value(value[key], spec, f"{where}.{key}")
    return value


def _check_value(value, spec, where: str) -> None:
    if isinstance(spec, dict):
        check(value, spec, where)
    elif isinstance(spec, list):
        if not isinstance(value, list) or len(value) > LIST_MAX:
            raise ValueError(f"{where} is not a list of at most {LIST_MAX} items")
        for index, item in enumerate(value):
            check(item, spec[0], f"{where}[{index}]")
    elif spec is int:
        if type(value) is not int or not -(2**53) < value < 2**53:
            raise ValueError(f"{where} is not an integer")
    else:
        limit = spec[1] if isinstance(spec, tuple) else STRING_MAX
        if not isinstance(value, str) or len(value) > limit:
            raise ValueError(f"{where} is not a string of at most {limit} characters")
