"""Bitbucket Cloud OAuth 2 consumers: authorize (consent page), access_token, and the 2.0 user API.

``/bb`` stands for bitbucket.org and ``/bb-api`` for api.bitbucket.org. The consumer authenticates
with HTTP Basic (the sandbox also accepts the credentials in the body); errors are HTTP 400 JSON.
PKCE is not documented for Bitbucket Cloud, so ``code_challenge`` is ignored.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, Response, jsonify, redirect, request

from portal_devkit.sandbox.providers import _oauth

CODE_LIFETIME = timedelta(minutes=10)
TOKEN_SECONDS = 7200

bp = Blueprint("sandbox_bitbucket", __name__)


def _store() -> dict:
    return _oauth.sandbox().state["bitbucket"]


def setup(sandbox):
    sandbox.state["bitbucket"] = _oauth.new_store()


def plugin_settings(sandbox):
    return _oauth.client_settings(sandbox, "bitbucket", web_url=f"{sandbox.url}/bb",
                                  api_url=f"{sandbox.url}/bb-api")


def bitbucket_uuid(persona: _oauth.Persona) -> str:
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"bitbucket:{persona.key}")) + "}"


@bp.route("/bb/site/oauth2/authorize", methods=["GET", "POST"])
def authorize():
    args = request.values

    def page(error=None):
        return _oauth.consent_page("Bitbucket", _store(), args, request.path, error=error)

    if args.get("client_id") != _store()["client_id"]:
        return page("Invalid client_id.")
    if not args.get("redirect_uri"):
        return page(_oauth.NO_REGISTERED_CALLBACK)
    if args.get("response_type") != "code":
        return page("Unsupported response_type.")
    if request.method == "GET":
        return page()
    if args.get("decision") == "deny" or _oauth.persona(args.get("persona")) is None:
        return redirect(_oauth.with_query(args.get("redirect_uri"), error="access_denied",
                                          error_description="The user denied access.",
                                          state=args.get("state")))
    code = _oauth.issue_code(_store(), args, args["persona"], CODE_LIFETIME)
    return redirect(_oauth.with_query(args.get("redirect_uri"), code=code, state=args.get("state")))


def _error(error: str, description: str, status: int = 400):
    return jsonify(error=error, error_description=description), status


@bp.post("/bb/site/oauth2/access_token")
def access_token():
    store = _store()
    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    if request.authorization and request.authorization.type == "basic":
        client_id, secret = request.authorization.username, request.authorization.password
    if client_id != store["client_id"] or secret != store["client_secret"]:
        return _error("invalid_client", "Invalid OAuth client credentials", 401)
    grant_type = request.form.get("grant_type")
    if grant_type == "refresh_token":
        grant = store["refresh_tokens"].pop(request.form.get("refresh_token") or "", None)
        if grant is None:
            return _error("invalid_grant", "Invalid refresh_token")
    elif grant_type == "authorization_code":
        grant, _problem = _oauth.redeem_code(store, request.form.get("code"),
                                             request.form.get("redirect_uri"), check_pkce=False)
        if grant is None or grant["client_id"] != client_id:
            return _error("invalid_grant", "The authorization code is invalid or expired.")
    else:
        return _error("unsupported_grant_type", f"Unsupported grant type: {grant_type}")
    token, refresh_token = _oauth.issue_token(store, grant, "", refresh=True)
    return jsonify(access_token=token, token_type="bearer", expires_in=TOKEN_SECONDS,
                   refresh_token=refresh_token, scopes="account email", state=grant_type)


def _persona_or_401():
    persona = _oauth.bearer_persona(_store(), request.headers.get("Authorization"))
    if persona is None:
        return None, (jsonify(type="error", error={"message": "Access token expired or invalid."}), 401)
    return persona, None


@bp.get("/bb-api/2.0/user")
def user():
    persona, error = _persona_or_401()
    if error:
        return error
    body = {"type": "user", "uuid": bitbucket_uuid(persona), "account_id": f"5b{persona.number:022x}",
            "nickname": persona.login, "display_name": persona.display_name(),
            "created_on": "2019-04-01T08:00:00+00:00",
            "links": {"avatar": {"href": persona.avatar(request.host_url + "bb-api")}}}
    if persona.without_id:
        del body["uuid"], body["account_id"]
    return jsonify(body)


@bp.get("/bb-api/2.0/user/emails")
def emails():
    persona, error = _persona_or_401()
    if error:
        return error
    values = []
    if persona.email:
        values.append({"type": "email", "email": persona.email, "is_primary": True, "is_confirmed": True})
    return jsonify(values=values, page=1, pagelen=10, size=len(values))


@bp.get("/bb-api/avatars/<login>.svg")
def avatar(login):
    return Response(_oauth.avatar_svg(login), content_type="image/svg+xml")
