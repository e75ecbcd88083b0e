"""GitHub OAuth apps: authorize (consent page, PKCE S256), access_token, and the REST user API.

``/gh`` stands for github.com and ``/gh-api`` for api.github.com. Token errors are HTTP 200 with an
``error`` field; the token response is JSON only when asked with ``Accept: application/json``.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, redirect, request

from portal_devkit.sandbox.providers import _oauth

CODE_LIFETIME = timedelta(minutes=10)
DOCS = ("https://docs.github.com/apps/managing-oauth-apps/"
        "troubleshooting-oauth-app-access-token-request-errors")

bp = Blueprint("sandbox_github", __name__)


def _store() -> dict:
    return _oauth.sandbox().state["github"]


def setup(sandbox):
    sandbox.state["github"] = _oauth.new_store()


def plugin_settings(sandbox):
    return _oauth.client_settings(sandbox, "github", web_url=f"{sandbox.url}/gh",
                                  api_url=f"{sandbox.url}/gh-api")


def github_id(persona: _oauth.Persona) -> int:
    return 5830000 + persona.number


@bp.route("/gh/login/oauth/authorize", methods=["GET", "POST"])
def authorize():
    args = request.values

    def page(error=None):
        return _oauth.consent_page("GitHub", _store(), args, request.path, error=error)

    if args.get("client_id") != _store()["client_id"]:
        return page("Application not found (unknown client_id).")
    if not args.get("redirect_uri"):
        return page(_oauth.NO_REGISTERED_CALLBACK)
    if args.get("code_challenge") and args.get("code_challenge_method") != "S256":
        return page("Only S256 is supported for PKCE.")
    if request.method == "GET":
        return page()
    redirect_uri = args.get("redirect_uri")
    if args.get("decision") == "deny" or _oauth.persona(args.get("persona")) is None:
        return redirect(_oauth.with_query(
            redirect_uri, error="access_denied", error_uri=DOCS, state=args.get("state"),
            error_description="The user has denied your application access."))
    code = _oauth.issue_code(_store(), args, args["persona"], CODE_LIFETIME)
    return redirect(_oauth.with_query(redirect_uri, code=code, state=args.get("state")))


def _token_answer(payload: dict) -> Response:
    if "application/json" in request.headers.get("Accept", ""):
        return jsonify(payload)
    return Response(urlencode(payload), content_type="application/x-www-form-urlencoded; charset=utf-8")


def _token_error(error: str, description: str) -> Response:
    return _token_answer({"error": error, "error_description": description, "error_uri": DOCS})


@bp.post("/gh/login/oauth/access_token")
def access_token():
    store = _store()
    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    if request.authorization and request.authorization.type == "basic":
        client_id, secret = request.authorization.username, request.authorization.password
    if client_id != store["client_id"] or secret != store["client_secret"]:
        return _token_error("incorrect_client_credentials",
                            "The client_id and/or client_secret passed are incorrect.")
    grant, problem = _oauth.redeem_code(store, request.form.get("code"), request.form.get("redirect_uri"),
                                        request.form.get("code_verifier"))
    if problem == "redirect":
        return _token_error("redirect_uri_mismatch",
                            "The redirect_uri MUST match the registered callback URL for this application.")
    if grant is None or grant["client_id"] != client_id:
        return _token_error("bad_verification_code", "The code passed is incorrect or expired.")
    token, _ = _oauth.issue_token(store, grant, "gho_")
    return _token_answer({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})


def _user_or_401():
    persona = _oauth.bearer_persona(_store(), request.headers.get("Authorization"), ("bearer", "token"))
    if persona is None:
        body = jsonify(message="Bad credentials", documentation_url="https://docs.github.com/rest",
                       status="401")
        return None, (body, 401)
    return persona, None


@bp.get("/gh-api/user")
def user():
    persona, error = _user_or_401()
    if error:
        return error
    body = {"login": persona.login, "id": github_id(persona), "node_id": f"U_kgDO{github_id(persona)}",
            "avatar_url": persona.avatar(request.host_url + "gh-api"), "type": "User", "site_admin": False,
            "name": persona.display_name(), "email": persona.email if persona.number % 2 else None}
    if persona.without_id:
        del body["id"], body["node_id"]
    return jsonify(body)


@bp.get("/gh-api/user/emails")
def emails():
    persona, error = _user_or_401()
    if error:
        return error
    if not persona.email:
        return jsonify([])
    return jsonify([
        {"email": f"{github_id(persona)}+{persona.login}@users.noreply.github.com", "primary": False,
         "verified": True, "visibility": None},
        {"email": persona.email, "primary": True, "verified": True, "visibility": "private"},
    ])


@bp.get("/gh-api/avatars/<login>.svg")
def avatar(login):
    return Response(_oauth.avatar_svg(login), content_type="image/svg+xml")
