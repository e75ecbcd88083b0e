"""Alipay money out and account binding on the sandbox's gateway: web authorization (personas),
``alipay.system.oauth.token``, ``alipay.user.info.share``, ``alipay.fund.trans.uni.transfer`` and
``alipay.fund.trans.common.query``.

- Authorization: ``/oauth2/publicAppAuthorize.htm?app_id&scope=auth_user&redirect_uri&state`` shows the
  personas (open_id only, user_id only, both) and a refusal; choosing one returns to ``redirect_uri``
  with ``app_id, source=alipay_wallet, scope, state, auth_code`` (single use, 10 minutes [policy]).
- ``alipay.system.oauth.token`` (top-level ``grant_type=authorization_code&code``): a bad, used or
  expired code gets ``error_response`` 40002 ``isv.code-invalid`` (unsigned).
- ``alipay.user.info.share`` (top-level ``auth_token``): 40002 ``isv.invalid-auth-token`` (unsigned)
  for a token it never issued.
- Transfers need the certificate-mode app (else 40002 ``isv.missing-app-cert-sn``). The payee must be a
  persona (``PAYEE_NOT_EXIST``); the amount 0.10 to 100000000.00 yuan (``EXCEED_LIMIT_SM_MIN_AMOUNT``
  [policy]); the same out_biz_no again with the same fields answers the same transfer, with other
  fields 40004 ``PARAM_ILLEGAL`` [policy] and pays nothing. The query answers 40004
  ``ORDER_NOT_EXIST`` for an out_biz_no it never received.

Control API (tests) at /_sandbox/alipay:
- ``POST /transfer-faults {"fail"?: sub_code, "timeout"?: seconds, "dealing"?: n}``: the next transfer
  is refused with ``sub_code`` (a 40004, nothing paid), or made and answered only after ``timeout``
  seconds (a lost answer), or answered DEALING and queried DEALING ``n`` times before SUCCESS.
- ``GET /transfers?out_biz_no=``: the transfers made (``paid`` true once the money moved).
- ``GET /personas``: the personas' open_id, user_id and nickname.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request

from portal_devkit.sandbox.providers import alipay

CONTROL = "/_sandbox/alipay"
AUTHORIZE = "/oauth2/publicAppAuthorize.htm"
CODE_LIFETIME = timedelta(minutes=10)  # [policy]
TOKEN_LIFETIME = timedelta(hours=1)
MIN_AMOUNT, MAX_AMOUNT = Decimal("0.10"), Decimal("100000000.00")
PERSONAS = {
    "openid": {"open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5", "user_id": None,
               "nick_name": "沙箱用户·小开", "avatar": "https://tfs.alipayobjects.com/images/partner/openid.png"},
    "userid": {"open_id": None, "user_id": "2088102177846881", "nick_name": "沙箱用户·老友",
               "avatar": "https://tfs.alipayobjects.com/images/partner/userid.png"},
    "both": {"open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoBoth", "user_id": "2088102177846882",
             "nick_name": "沙箱用户·双全", "avatar": "https://tfs.alipayobjects.com/images/partner/both.png"},
}
PAYEE_TYPES = {"ALIPAY_OPEN_ID": "open_id", "ALIPAY_USER_ID": "user_id"}

bp = Blueprint("sandbox_alipay_payout", __name__)


def setup(sandbox):
    sandbox.state["alipay_payout"] = {"codes": {}, "tokens": {}, "transfers": {}, "faults": []}


def plugin_settings(sandbox):
    # Transfers need certificate mode, so the payout plugin runs as the certificate-mode app.
    return {"alipay_payout": {**alipay.certificate_settings(sandbox), "authorize_url": sandbox.url + AUTHORIZE}}


def _state():
    return alipay.current_sandbox().state["alipay_payout"]


def _persona(key: str) -> dict | None:
    found = PERSONAS.get(key)
    return None if found is None else {"key": key, **found}


# Authorization (绑定支付宝)

@bp.get(AUTHORIZE)
def authorize():
    args = request.args
    problem = None
    if args.get("app_id") not in (alipay.APP_ID, alipay.CERT_APP_ID):
        problem = "无效的 app_id"
    elif args.get("scope") != "auth_user":
        problem = "scope 须为 auth_user"
    elif not (args.get("redirect_uri") or "").startswith(("http://", "https://")):
        problem = "redirect_uri 无效"
    if problem:
        return render_template("sandbox/alipay_authorize.html", problem=problem, personas={}), 400
    return render_template("sandbox/alipay_authorize.html", problem=None, personas=PERSONAS, args=args)


@bp.post(AUTHORIZE)
def authorize_choose():
    form, sandbox = request.form, alipay.current_sandbox()
    persona = _persona(form.get("persona", ""))
    target = form.get("redirect_uri", "")
    if not target.startswith(("http://", "https://")) or form.get("app_id") not in (alipay.APP_ID, alipay.CERT_APP_ID):
        return render_template("sandbox/alipay_authorize.html", problem="请求无效", personas={}), 400
    back = {"app_id": form["app_id"], "source": "alipay_wallet", "scope": "auth_user", "state": form.get("state", "")}
    if persona is None:
        # Refused: Alipay returns without an auth_code.
        return redirect(f"{target}{'&' if '?' in target else '?'}{urlencode(back)}")
    code = secrets.token_hex(16)
    with sandbox.lock:
        _state()["codes"][code] = {"persona": persona["key"], "app_id": form["app_id"],
                                   "expires_at": sandbox.now() + CODE_LIFETIME}
    return redirect(f"{target}{'&' if '?' in target else '?'}{urlencode({**back, 'auth_code': code})}")


def _unsigned_error(sub_code: str, sub_msg: str, error_response: bool = False):
    """Alipay's 40002 answers are unsigned; the OAuth ones come as ``error_response``."""
    g.alipay_unsigned = True
    g.alipay_error_response = error_response
    return {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg}


def oauth_token(biz: dict, params: dict) -> dict:
    sandbox = alipay.current_sandbox()
    if params.get("grant_type") != "authorization_code":
        return _unsigned_error("isv.grant-type-invalid", "不支持的授权类型", True)
    issued = _state()["codes"].pop(params.get("code") or "", None)  # single use
    if issued is None or issued["app_id"] != params["app_id"] or issued["expires_at"] < sandbox.now():
        return _unsigned_error("isv.code-invalid", "授权码code无效", True)
    persona = PERSONAS[issued["persona"]]
    token = "authusrB" + secrets.token_hex(16)
    _state()["tokens"][token] = {"persona": issued["persona"], "app_id": params["app_id"],
                                 "expires_at": sandbox.now() + TOKEN_LIFETIME}
    answer = {"access_token": token, "expires_in": int(TOKEN_LIFETIME.total_seconds()),
              "refresh_token": "authusrR" + secrets.token_hex(16), "re_expires_in": 2592000,
              "auth_start": alipay.china_time(sandbox.now())}
    for key in ("user_id", "open_id"):
        if persona[key]:
            answer[key] = persona[key]
    return answer


def user_info(biz: dict, params: dict) -> dict:
    sandbox = alipay.current_sandbox()
    token = _state()["tokens"].get(params.get("auth_token") or "")
    if token is None or token["app_id"] != params["app_id"] or token["expires_at"] < sandbox.now():
        return _unsigned_error("isv.invalid-auth-token", "无效的访问令牌", True)
    persona = PERSONAS[token["persona"]]
    answer = {"code": "10000", "msg": "Success", "nick_name": persona["nick_name"], "avatar": persona["avatar"],
              "province": "浙江省", "city": "杭州市", "gender": "F", "is_certified": "T", "user_type": "2",
              "user_status": "T"}
    for key in ("user_id", "open_id"):
        if persona[key]:
            answer[key] = persona[key]
    return answer


# Transfers (提现)

def _needs_certificate(params: dict) -> dict | None:
    if params.get("app_id") != alipay.CERT_APP_ID:
        return _unsigned_error("isv.missing-app-cert-sn", "缺少应用公钥证书序列号：资金类接口须使用公钥证书模式")
    return None


def _amount(value) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        return None
    return amount


def _fields(biz: dict) -> tuple:
    payee = biz.get("payee_info") if isinstance(biz.get("payee_info"), dict) else {}
    return (biz.get("trans_amount"), biz.get("product_code"), biz.get("biz_scene"),
            payee.get("identity"), payee.get("identity_type"))


def _answer(made: dict) -> dict:
    status = made["status"]
    answer = {"code": "10000", "msg": "Success", "out_biz_no": made["out_biz_no"], "order_id": made["order_id"],
              "pay_fund_order_id": made["pay_fund_order_id"], "status": status,
              "trans_date": alipay.china_time(made["at"])}
    return answer


def transfer(biz: dict, params: dict) -> dict:
    refusal = _needs_certificate(params)
    if refusal:
        return refusal
    sandbox, state = alipay.current_sandbox(), _state()
    number = biz.get("out_biz_no")
    if not isinstance(number, str) or not 0 < len(number) <= 64:
        return alipay._failed("INVALID_PARAMETER", "out_biz_no 须为 1 到 64 个字符")
    existing = state["transfers"].get(number)
    if existing is not None:
        if existing["fields"] != _fields(biz):
            return alipay._failed("PARAM_ILLEGAL", "同一商户订单号的请求参数不一致")
        if existing["status"] == "FAIL":
            return alipay._failed(existing["fail_reason"], existing["fail_reason"])
        return _answer(existing)
    if biz.get("product_code") != "TRANS_ACCOUNT_NO_PWD" or biz.get("biz_scene") != "DIRECT_TRANSFER":
        return alipay._failed("INVALID_PARAMETER", "product_code 或 biz_scene 无效")
    amount = _amount(biz.get("trans_amount"))
    if amount is None or amount > MAX_AMOUNT:
        return alipay._failed("INVALID_PARAMETER", "trans_amount 须为最多两位小数的金额")
    if amount < MIN_AMOUNT:
        return alipay._failed("EXCEED_LIMIT_SM_MIN_AMOUNT", "单笔最低转账金额0.1元")
    payee = biz.get("payee_info") if isinstance(biz.get("payee_info"), dict) else {}
    key = PAYEE_TYPES.get(payee.get("identity_type"))
    if key is None:
        return alipay._failed("INVALID_PARAMETER", "payee_info.identity_type 无效")
    if not payee.get("identity") or not any(p[key] == payee.get("identity") for p in PERSONAS.values()):
        return alipay._failed("PAYEE_NOT_EXIST", "收款账号不存在")
    fault = state["faults"].pop(0) if state["faults"] else {}
    made = {"out_biz_no": number, "fields": _fields(biz), "amount": str(amount), "payee": payee["identity"],
            "order_id": "20261201" + secrets.token_hex(8), "pay_fund_order_id": "20261201" + secrets.token_hex(9),
            "at": sandbox.now(), "status": "SUCCESS", "fail_reason": None, "dealing": 0, "queries": 0}
    if fault.get("fail"):
        made.update(status="FAIL", fail_reason=fault["fail"])
        state["transfers"][number] = made
        return alipay._failed(fault["fail"], "转账失败")
    if fault.get("dealing"):
        made.update(status="DEALING", dealing=int(fault["dealing"]))
    state["transfers"][number] = made
    if fault.get("timeout"):
        # Paid; the answer comes too late for the caller, who must query.
        g.alipay_answer_delay = float(fault["timeout"])
    return _answer(made)


def transfer_query(biz: dict, params: dict) -> dict:
    refusal = _needs_certificate(params)
    if refusal:
        return refusal
    made = _state()["transfers"].get(biz.get("out_biz_no") or "")
    if made is None:
        return alipay._failed("ORDER_NOT_EXIST", "转账订单不存在")
    if made["status"] == "DEALING":
        made["queries"] += 1
        if made["queries"] > made["dealing"]:
            made["status"] = "SUCCESS"
    answer = {**_answer(made), "trans_amount": made["amount"], "pay_date": alipay.china_time(made["at"])}
    if made["status"] == "FAIL":
        answer["fail_reason"] = made["fail_reason"]
    return answer


alipay.METHODS.update({
    "alipay.system.oauth.token": oauth_token,
    "alipay.user.info.share": user_info,
    "alipay.fund.trans.uni.transfer": transfer,
    "alipay.fund.trans.common.query": transfer_query,
})


@bp.post(CONTROL + "/transfer-faults")
def add_fault():
    data = request.get_json(silent=True) or {}
    unknown = set(data) - {"fail", "timeout", "dealing"}
    if unknown:
        return jsonify(error=f"unknown faults: {', '.join(sorted(unknown))}"), 400
    sandbox = current_app.extensions["sandbox"]
    with sandbox.lock:
        sandbox.state["alipay_payout"]["faults"].append(data)
    return jsonify(data)


@bp.get(CONTROL + "/transfers")
def list_transfers():
    sandbox, number = current_app.extensions["sandbox"], request.args.get("out_biz_no")
    with sandbox.lock:
        found = [{"out_biz_no": t["out_biz_no"], "amount": t["amount"], "payee": t["payee"], "status": t["status"],
                  "paid": t["status"] != "FAIL", "order_id": t["order_id"], "fail_reason": t["fail_reason"]}
                 for t in sandbox.state["alipay_payout"]["transfers"].values() if number in (None, t["out_biz_no"])]
    return jsonify(found)


@bp.get(CONTROL + "/personas")
def list_personas():
    return jsonify({key: {k: v for k, v in p.items() if k != "avatar"} for key, p in PERSONAS.items()})
