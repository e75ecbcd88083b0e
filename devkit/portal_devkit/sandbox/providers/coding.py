"""CODING (coding.net) OAuth: authorize (consent page), access_token, and the open-api user action.

``/coding`` stands for ``https://{team}.coding.net``. Scopes are comma-separated; the callback
carries ``team``; ``expires_in`` is a string; the user endpoint is ``POST /open-api`` with an
``Action``, answering ``{"Response": {...}}`` (errors inside it, with HTTP 200). Codes live 5 minutes.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, Response, jsonify, redirect, request

from portal_devkit.sandbox.providers import _oauth

CODE_LIFETIME = timedelta(minutes=5)
TEAM = "sandbox-team"

bp = Blueprint("sandbox_coding", __name__)


def _store() -> dict:
    return _oauth.sandbox().state["coding"]


def setup(sandbox):
    sandbox.state["coding"] = _oauth.new_store()


def plugin_settings(sandbox):
    return _oauth.client_settings(sandbox, "coding", base_url=f"{sandbox.url}/coding")


def coding_id(persona: _oauth.Persona) -> int:
    return 183470 + persona.number


@bp.route("/coding/oauth_authorize.html", methods=["GET", "POST"])
def authorize():
    args = request.values

    def page(error=None):
        return _oauth.consent_page("CODING", _store(), args, request.path, error=error)

    if args.get("client_id") != _store()["client_id"]:
        return page("client_id 无效 (invalid client).")
    if not args.get("redirect_uri"):
        return page(_oauth.NO_REGISTERED_CALLBACK)
    if request.method == "GET":
        return page()
    if args.get("decision") == "deny" or _oauth.persona(args.get("persona")) is None:
        return redirect(_oauth.with_query(args.get("redirect_uri"), error="access_denied",
                                          state=args.get("state")))
    code = _oauth.issue_code(_store(), args, args["persona"], CODE_LIFETIME)
    return redirect(_oauth.with_query(args.get("redirect_uri"), code=code, state=args.get("state"), team=TEAM,
                                      scope=args.get("scope")))


def _error(error: str, description: str, status: int = 400):
    return jsonify(error=error, error_description=description), status


@bp.post("/coding/api/oauth/access_token")
def access_token():
    store = _store()
    # Older clients send the fields in the query string.
    fields = {**request.args.to_dict(), **request.form.to_dict()}
    if fields.get("client_id") != store["client_id"] or fields.get("client_secret") != store["client_secret"]:
        return _error("invalid_client", "client_id 或 client_secret 错误", 401)
    if fields.get("grant_type") == "refresh_token":
        grant = store["refresh_tokens"].pop(fields.get("refresh_token") or "", None)
        if grant is None:
            return _error("invalid_grant", "refresh_token 无效")
        # Refreshing ends the old access token.
        store["tokens"].pop(grant["access_token"], None)
    elif fields.get("grant_type") == "authorization_code":
        grant, _problem = _oauth.redeem_code(store, fields.get("code"), check_pkce=False)
        if grant is None or grant["client_id"] != fields["client_id"]:
            return _error("invalid_grant", "code 无效或已过期")
    else:
        return _error("unsupported_grant_type", "grant_type 不支持")
    token, refresh_token = _oauth.issue_token(store, grant, "", refresh=True)
    return jsonify(access_token=token, refresh_token=refresh_token, scope="user:profile:ro", team=TEAM,
                   token_type="Bearer", expires_in="7200")


def _request_id() -> str:
    return str(uuid.uuid4())


@bp.post("/coding/open-api")
def open_api():
    persona = _oauth.bearer_persona(_store(), request.headers.get("Authorization"))
    if persona is None:
        return jsonify(Response={"Error": {"Code": "AuthFailure", "Message": "token 无效"},
                                 "RequestId": _request_id()})
    action = (request.get_json(silent=True) or {}).get("Action")
    if action != "DescribeCodingCurrentUser":
        return jsonify(Response={"Error": {"Code": "InvalidAction", "Message": f"unknown Action {action!r}"},
                                 "RequestId": _request_id()})
    user = {"Id": coding_id(persona), "GlobalKey": persona.login,
            "Name": persona.display_name() or persona.login,
            "Avatar": persona.avatar(request.host_url + "coding"), "Email": persona.email or "",
            "EmailValidation": 1 if persona.email else 0, "Status": 1, "TeamId": 1}
    if persona.without_id:
        del user["Id"]
    return jsonify(Response={"User": user, "RequestId": _request_id()})


@bp.get("/coding/avatars/<login>.svg")
def avatar(login):
    return Response(_oauth.avatar_svg(login), content_type="image/svg+xml")
