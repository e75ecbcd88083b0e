"""QQ Connect (graph.qq.com): authorize page, oauth2.0/token, oauth2.0/me, user/get_user_info.

Legacy formats by default (a form-encoded token, ``callback( {...} );`` JSONP for errors and for
``me``), plain JSON with ``fmt=json``. Errors are HTTP 200 with QQ's numeric codes.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, redirect, render_template, request

from portal_devkit.sandbox.providers._oauth import avatar_svg, sandbox as _sandbox, with_query
from portal_devkit.sandbox.providers.wechat import qr_svg

APPID = "101987654"
CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_SECONDS = 7776000


@dataclass(frozen=True)
class Persona:
    key: str
    openid: str
    unionid: str
    nickname: str
    gender: str
    small_avatar_only: bool = False


PERSONAS = (
    Persona("xiaoming", "B1A2C3D4E5F60718293A4B5C6D7E8F90", "UID_7F1E2D3C4B5A69788796A5B4C3D2E1F0",
            "小明同学", "男"),
    # Some accounts have no 100px avatar: figureurl_qq_2 is "" and only the 40px one is set.
    Persona("hong", "0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D", "UID_0123456789ABCDEF0123456789ABCDEF", "小红🌸", "女",
            small_avatar_only=True),
)

bp = Blueprint("sandbox_qq", __name__)


def setup(sandbox):
    sandbox.state["qq"] = {
        "apps": {APPID: secrets.token_hex(16)},
        # Apps must apply for unionid; the sandbox app has been approved.
        "unionid_approved": {APPID},
        "codes": {},
        "tokens": {},
        "refresh_tokens": {},
    }


def plugin_settings(sandbox):
    return {
        "qq": {
            "graph_url": f"{sandbox.url}/qq",
            "client_id": APPID,
            "client_secret": sandbox.state["qq"]["apps"][APPID],
            "unionid": True,
        }
    }


def persona(key: str) -> Persona:
    return next(p for p in PERSONAS if p.key == key)


def _state() -> dict:
    return _sandbox().state["qq"]


def _answer(payload: dict, as_json: bool) -> Response:
    body = json.dumps(payload, ensure_ascii=False)
    if as_json:
        return Response(body, 200, content_type="application/json")
    return Response(f"callback( {body} );\n", 200, content_type="text/html; charset=utf-8")


def _error(code: int, description: str, as_json: bool) -> Response:
    return _answer({"error": code, "error_description": description}, as_json)


# -- the authorize page ----------------------------------------------------------------------------

@bp.get("/qq/oauth2.0/authorize")
def authorize():
    args = request.args
    problem = None
    if args.get("response_type") != "code":
        problem = (100000, "缺少参数response_type或response_type非法")
    elif args.get("client_id") not in _state()["apps"]:
        problem = (100008, "client id is illegal")
    elif not args.get("redirect_uri", "").startswith(("http://", "https://")):
        problem = (100010, "redirect uri is illegal")
    elif not args.get("state"):
        problem = (100000, "缺少参数state")
    if problem:
        return render_template("sandbox/qq_error.html", code=problem[0], message=problem[1]), 400
    return render_template(
        "sandbox/qq_authorize.html",
        qr=qr_svg(f"https://graph.qq.com/oauth2.0/show?which=Login&qrsig={secrets.token_hex(8)}"),
        personas=PERSONAS,
        client_id=args["client_id"],
        redirect_uri=args["redirect_uri"],
        state=args["state"],
    )


@bp.post("/qq/oauth2.0/confirm")
def confirm():
    form = request.form
    redirect_uri = form.get("redirect_uri", "")
    if form.get("client_id") not in _state()["apps"] or not redirect_uri.startswith(("http://", "https://")):
        abort(400)
    if form.get("decision") != "approve":
        # [policy] A cancelled login comes back without a code.
        return redirect(with_query(redirect_uri, usercancel="1", state=form.get("state", "")))
    code = secrets.token_hex(16).upper()
    with _sandbox().lock:
        _state()["codes"][code] = {
            "client_id": form["client_id"],
            "redirect_uri": redirect_uri,
            "persona": persona(form["persona"]).key,
            "expires": _sandbox().now() + CODE_LIFETIME,
            "used": False,
        }
    return redirect(with_query(redirect_uri, code=code, state=form.get("state", "")))


# -- token, me, get_user_info ----------------------------------------------------------------------

def _issue_token(client_id: str, persona_key: str, need_openid: bool, as_json: bool) -> Response:
    access_token, refresh_token = secrets.token_hex(16).upper(), secrets.token_hex(16).upper()
    state = _state()
    state["tokens"][access_token] = {
        "client_id": client_id,
        "persona": persona_key,
        "expires": _sandbox().now() + timedelta(seconds=ACCESS_TOKEN_SECONDS),
    }
    state["refresh_tokens"][refresh_token] = {"client_id": client_id, "persona": persona_key}
    payload = {
        "access_token": access_token,
        "expires_in": str(ACCESS_TOKEN_SECONDS),
        "refresh_token": refresh_token,
    }
    if need_openid:
        payload["openid"] = persona(persona_key).openid
    if as_json:
        return _answer(payload, True)
    return Response(urlencode(payload), 200, content_type="text/html; charset=utf-8")


@bp.route("/qq/oauth2.0/token", methods=["GET", "POST"])
def token():
    args = request.values
    as_json = args.get("fmt") == "json"
    grant_type = args.get("grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        return _error(100004, "param grant_type is wrong or lost", as_json)
    secret = _state()["apps"].get(args.get("client_id"))
    if secret is None:
        return _error(100008, "client id is illegal", as_json)
    if not secrets.compare_digest(args.get("client_secret", ""), secret):
        return _error(100009, "client secret is illegal", as_json)
    need_openid = args.get("need_openid") == "1"
    with _sandbox().lock:
        if grant_type == "refresh_token":
            # Refresh tokens are single use: each refresh hands out the next one.
            grant = _state()["refresh_tokens"].pop(args.get("refresh_token", ""), None)
            if grant is None or grant["client_id"] != args["client_id"]:
                return _error(100015, "refresh token is invalid", as_json)
            return _issue_token(grant["client_id"], grant["persona"], need_openid, as_json)
        code = args.get("code")
        if not code:
            return _error(100005, "param code is wrong or lost", as_json)
        grant = _state()["codes"].get(code)
        if grant is None or grant["client_id"] != args["client_id"] or grant["expires"] < _sandbox().now():
            return _error(100019, "code to access token error", as_json)
        if grant["used"]:
            return _error(100020, "code is reused error", as_json)
        if args.get("redirect_uri") != grant["redirect_uri"]:
            return _error(100010, "redirect uri is illegal", as_json)
        grant["used"] = True
        return _issue_token(grant["client_id"], grant["persona"], need_openid, as_json)


def _token_grant(access_token: str) -> tuple[dict | None, tuple[int, str] | None]:
    grant = _state()["tokens"].get(access_token or "")
    if grant is None:
        return None, (100016, "access token check failed")
    if grant["expires"] < _sandbox().now():
        return None, (100014, "access token is expired")
    return grant, None


@bp.get("/qq/oauth2.0/me")
def me():
    args = request.args
    as_json = args.get("fmt") == "json"
    grant, problem = _token_grant(args.get("access_token"))
    if problem:
        return _error(*problem, as_json)
    owner = persona(grant["persona"])
    payload = {"client_id": grant["client_id"], "openid": owner.openid}
    if args.get("unionid") == "1":
        if grant["client_id"] not in _state()["unionid_approved"]:
            return _error(100048, "no permission to get unionid", as_json)
        payload["unionid"] = owner.unionid
    return _answer(payload, as_json)


@bp.get("/qq/user/get_user_info")
def get_user_info():
    args = request.args
    grant, problem = _token_grant(args.get("access_token"))
    if problem:
        return _answer({"ret": 1002, "msg": "请先登录"}, True)
    owner = persona(grant["persona"])
    if args.get("oauth_consumer_key") != grant["client_id"] or args.get("openid") != owner.openid:
        return _answer({"ret": -1, "msg": "client request's parameters are invalid, invalid openid"}, True)
    avatar = f"{_sandbox().url}/qq/avatar/{owner.key}"
    return _answer({
        "ret": 0,
        "msg": "",
        "is_lost": 0,
        "nickname": owner.nickname,
        "gender": owner.gender,
        "gender_type": 1 if owner.gender == "男" else 2,
        "province": "",
        "city": "",
        "year": "1990",
        "figureurl": f"{avatar}/30",
        "figureurl_1": f"{avatar}/50",
        "figureurl_2": f"{avatar}/100",
        "figureurl_qq_1": f"{avatar}/40",
        "figureurl_qq_2": "" if owner.small_avatar_only else f"{avatar}/100",
        "figureurl_qq": f"{avatar}/640",
        "is_yellow_vip": "0",
        "vip": "0",
    }, True)


@bp.get("/qq/avatar/<key>/<int:size>")
def avatar(key, size):
    chosen = next((p for p in PERSONAS if p.key == key), None)
    if chosen is None:
        abort(404)
    return Response(avatar_svg(chosen.nickname), content_type="image/svg+xml; charset=utf-8")
