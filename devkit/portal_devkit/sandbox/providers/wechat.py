"""WeChat Open Platform web QR login: qrconnect page, sns/oauth2 token, userinfo, auth, refresh.

Mounted twice, as the real service is split over two hosts: ``/wx-open`` (open.weixin.qq.com, the
QR page) and ``/wx-api`` (api.weixin.qq.com, the JSON API). API answers are HTTP 200 with
``errcode`` on errors and ``text/plain`` raw UTF-8 JSON, which is what garbles Chinese in clients
that trust the content type.
"""
from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, abort, redirect, render_template, request
from markupsafe import Markup

from portal_devkit.sandbox.providers._oauth import avatar_svg, sandbox as _sandbox, with_query

APPID = "wx8d2c5a1f0e3b4c67"
CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_SECONDS = 7200
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
STATE = re.compile(r"[A-Za-z0-9]{0,128}")
HUGE_NICKNAME_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Persona:
    key: str
    openid: str
    unionid: str | None
    nickname: str
    sex: int
    province: str
    city: str
    # Fault personas: a userinfo answer without openid, or with a 5 MB nickname.
    without_openid: bool = False
    huge_nickname: bool = False

    def userinfo_nickname(self) -> str:
        return "微" * (HUGE_NICKNAME_BYTES // 3) if self.huge_nickname else self.nickname


PERSONAS = (
    Persona("zhang", "oZhang3WQm1xPq8kLr2VbN7sT0c", "oUnionZhangSan9XaQ2", "张三🐼", 1, "广东", "深圳"),
    Persona("li", "oLiSi8HnT4yUe6wRz1CkM5pJd2f", "oUnionLiSi4KbW7", "李四·云原生", 2, "上海", "上海"),
    # An app not bound to an Open Platform account gets no unionid: the subject falls back to openid.
    Persona("wang", "oWangWu2LsD9fGh3JkQ7aZx1Cv6", None, "王五", 0, "", ""),
    Persona("ghost", "oGhost5Nq2Wc8Er4Ty6Ui1Op3As", None, "(no openid)", 0, "", "", without_openid=True),
    Persona("huge", "oHuge7Zx3Cv5Bn1Mq9Wr2Et4Yu6", None, "(5 MB nickname)", 0, "", "", huge_nickname=True),
)

bp = Blueprint("sandbox_wechat", __name__)


def setup(sandbox):
    sandbox.state["wechat"] = {
        "apps": {APPID: secrets.token_hex(16)},
        "codes": {},
        "tokens": {},
        "refresh_tokens": {},
    }


def plugin_settings(sandbox):
    state = sandbox.state["wechat"]
    return {
        "wechat": {
            "open_url": f"{sandbox.url}/wx-open",
            "api_url": f"{sandbox.url}/wx-api",
            # The AppID and AppSecret of a "网站应用" are its OAuth client id and secret.
            "client_id": APPID,
            "client_secret": state["apps"][APPID],
        }
    }


def persona(key: str) -> Persona:
    return next(p for p in PERSONAS if p.key == key)


def qr_svg(text: str) -> Markup:
    """A real QR code of ``text`` as inline SVG: the phone in this sandbox is the persona buttons."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return Markup(image.to_string(encoding="unicode"))


def _state() -> dict:
    return _sandbox().state["wechat"]


def _json(payload: dict) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, 200, content_type="text/plain")


def _error(errcode: int, errmsg: str) -> Response:
    return _json({"errcode": errcode, "errmsg": f"{errmsg}, rid: {uuid.uuid4().hex[:24]}"})


# -- open.weixin.qq.com: the QR page ---------------------------------------------------------------

@bp.get("/wx-open/connect/qrconnect")
def qrconnect():
    args = request.args
    problem = None
    if args.get("appid") not in _state()["apps"]:
        problem = "appid 参数错误"
    elif not args.get("redirect_uri", "").startswith(("http://", "https://")):
        problem = "redirect_uri 参数错误"
    elif args.get("scope") != "snsapi_login":
        problem = "scope 参数错误"
    elif args.get("response_type") != "code" or not STATE.fullmatch(args.get("state", "")):
        problem = "请求参数错误"
    if problem:
        # The real page shows the error itself and never redirects back.
        return render_template("sandbox/wechat_error.html", problem=problem), 400
    return render_template(
        "sandbox/wechat_qrconnect.html",
        qr=qr_svg(f"https://open.weixin.qq.com/connect/confirm?uuid={secrets.token_hex(8)}"),
        personas=PERSONAS,
        appid=args["appid"],
        redirect_uri=args["redirect_uri"],
        state=args.get("state", ""),
    )


@bp.post("/wx-open/connect/confirm")
def confirm():
    form = request.form
    redirect_uri = form.get("redirect_uri", "")
    if form.get("appid") not in _state()["apps"] or not redirect_uri.startswith(("http://", "https://")):
        abort(400)
    params = {}
    if form.get("decision") == "approve":
        chosen = persona(form["persona"])
        code = secrets.token_urlsafe(24)
        with _sandbox().lock:
            _state()["codes"][code] = {
                "appid": form["appid"],
                "persona": chosen.key,
                "expires": _sandbox().now() + CODE_LIFETIME,
                "used": False,
            }
        params["code"] = code
    # A denial comes back with the state alone: no code and no error parameter.
    params["state"] = form.get("state", "")
    return redirect(with_query(redirect_uri, **params))


# -- api.weixin.qq.com: token, refresh, userinfo, auth ---------------------------------------------

def _check_app(args) -> Response | None:
    secret = _state()["apps"].get(args.get("appid"))
    if secret is None:
        return _error(40013, "invalid appid")
    if not secrets.compare_digest(args.get("secret", ""), secret):
        return _error(40125, "invalid appsecret")
    return None


def _issue_token(appid: str, persona_key: str) -> dict:
    access_token, refresh_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _sandbox().now()
    state = _state()
    state["tokens"][access_token] = {
        "appid": appid,
        "persona": persona_key,
        "expires": now + timedelta(seconds=ACCESS_TOKEN_SECONDS),
    }
    state["refresh_tokens"][refresh_token] = {
        "appid": appid,
        "persona": persona_key,
        "expires": now + REFRESH_TOKEN_LIFETIME,
    }
    chosen = persona(persona_key)
    payload = {
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_SECONDS,
        "refresh_token": refresh_token,
        "openid": chosen.openid,
        "scope": "snsapi_login",
    }
    if chosen.unionid:
        payload["unionid"] = chosen.unionid
    return payload


@bp.get("/wx-api/sns/oauth2/access_token")
def access_token():
    args = request.args
    if args.get("grant_type") != "authorization_code":
        return _error(40002, "invalid grant_type")
    bad_app = _check_app(args)
    if bad_app:
        return bad_app
    code = args.get("code")
    if not code:
        return _error(41008, "missing code")
    with _sandbox().lock:
        grant = _state()["codes"].get(code)
        if grant is None or grant["appid"] != args["appid"] or grant["expires"] < _sandbox().now():
            return _error(40029, "invalid code")
        if grant["used"]:
            return _error(40163, "code been used")
        grant["used"] = True
        return _json(_issue_token(grant["appid"], grant["persona"]))


@bp.get("/wx-api/sns/oauth2/refresh_token")
def refresh_token():
    args = request.args
    if args.get("grant_type") != "refresh_token":
        return _error(40002, "invalid grant_type")
    if args.get("appid") not in _state()["apps"]:
        return _error(40013, "invalid appid")
    with _sandbox().lock:
        grant = _state()["refresh_tokens"].get(args.get("refresh_token", ""))
        if grant is None or grant["appid"] != args["appid"]:
            return _error(40030, "invalid refresh_token")
        if grant["expires"] < _sandbox().now():
            return _error(42002, "refresh_token timeout")
        return _json(_issue_token(grant["appid"], grant["persona"]))


def _token_owner(args) -> tuple[Persona | None, Response | None]:
    grant = _state()["tokens"].get(args.get("access_token", ""))
    if grant is None:
        return None, _error(40001, "invalid credential, access_token is invalid or not latest")
    if grant["expires"] < _sandbox().now():
        return None, _error(42001, "access_token expired")
    owner = persona(grant["persona"])
    if args.get("openid") != owner.openid:
        return None, _error(40003, "invalid openid")
    return owner, None


@bp.get("/wx-api/sns/auth")
def auth():
    _, problem = _token_owner(request.args)
    return problem or _json({"errcode": 0, "errmsg": "ok"})


@bp.get("/wx-api/sns/userinfo")
def userinfo():
    owner, problem = _token_owner(request.args)
    if problem:
        return problem
    payload = {
        "openid": owner.openid,
        "nickname": owner.userinfo_nickname(),
        "sex": owner.sex,
        "province": owner.province,
        "city": owner.city,
        "country": "中国" if owner.province else "",
        "headimgurl": f"{_sandbox().url}/wx-api/avatar/{owner.key}/132",
        "privilege": [],
    }
    if owner.unionid:
        payload["unionid"] = owner.unionid
    if owner.without_openid:
        del payload["openid"]
    return _json(payload)


@bp.get("/wx-api/avatar/<key>/<int:size>")
def avatar(key, size):
    chosen = next((p for p in PERSONAS if p.key == key), None)
    if chosen is None:
        abort(404)
    return Response(avatar_svg(chosen.nickname), content_type="image/svg+xml; charset=utf-8")
