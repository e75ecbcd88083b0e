"""The gate every /api/v1 request passes before its view: body size and type, the key (from the
Authorization header only), and the key's rate limit. No session and no cookie is read or set:
the key is the only credential, and CSRF does not apply (there is no ambient credential to ride on).
"""
from __future__ import annotations

from flask import current_app, g, request
from flask_login import AnonymousUserMixin

from portal import ratelimits
from portal.api.errors import ApiError, max_body_size
from portal.apikeys import tokens
from portal.apikeys.checks import KeyRefused, verify_key
from portal.i18n import gettext as _
from portal.net import client_ip

DEFAULT_RATE_LIMIT = "1200/minute"
# Failed authentications per client address, so nobody can try keys (or typos) at full speed.
DEFAULT_FAILURE_LIMIT = "60/minute"
# Query parameters that carry keys in other APIs; refused here whatever their value.
KEY_PARAMETERS = {"api_key", "apikey", "key", "access_token", "token", "authorization", "auth"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
WWW_AUTHENTICATE = 'Bearer realm="api"'


def check_body_size() -> None:
    """Refuse a body that is too large before anything reads it."""
    limit = max_body_size()
    # Werkzeug enforces it while reading too (chunked bodies have no Content-Length).
    request.max_content_length = limit
    length = request.content_length
    if request.method in BODY_METHODS and length is not None and length > limit:
        raise ApiError(413, "body_too_large", _("The body is too large: at most %(size)d bytes.", size=limit))


def check_body_type() -> None:
    """Bodies are JSON objects, said so by their Content-Type."""
    if request.method not in BODY_METHODS:
        return
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       _("Send the body as JSON, with Content-Type: application/json."))
    # Parsed here so that every malformed body (bad UTF-8, a 5000-digit number) is the same 400.
    if request.get_json(silent=True) is None and request.get_data(cache=True).strip() != b"null":
        raise ApiError(400, "malformed_json", _("The body is not valid JSON."))


def _key_in_query() -> bool:
    return any(name.lower() in KEY_PARAMETERS for name in request.args) or any(
        tokens.LOOKS_LIKE_KEY.search(value) for value in request.args.values())


def ignore_sessions() -> None:
    """Whatever cookies come along, nobody is signed in here: Flask-Login never loads a user from the
    session cookie (nor touches the session) for this request."""
    g._login_user = AnonymousUserMixin()


def authenticate() -> None:
    """Find the request's key and make it ``g.api_key``; raise ApiError when it may not act."""
    if _key_in_query():
        raise ApiError(400, "key_in_query", _(
            "API keys are accepted only in the Authorization header (Bearer). A key in a URL ends up in "
            "server logs, proxies and browser history: revoke that key and create a new one."))
    scheme, _sep, key_text = (request.headers.get("Authorization") or "").strip().partition(" ")
    if not key_text or scheme.lower() != "bearer":
        _refuse(KeyRefused("missing_key", _("Send an API key as Authorization: Bearer <key>.")))
    try:
        key = verify_key(key_text.strip(), client_ip())
    except KeyRefused as exc:
        _refuse(exc)
    limit = current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT
    if not ratelimits.hit(limit, "api-key", key.lookup_id):
        raise ApiError(429, "rate_limited", _("Too many requests with this API key; slow down."),
                       {"Retry-After": str(ratelimits.retry_after(limit, "api-key", key.lookup_id))})
    g.api_key = key


def _refuse(exc: KeyRefused):
    limit = current_app.config.get("API_FAILURE_LIMIT") or DEFAULT_FAILURE_LIMIT
    if not ratelimits.hit(limit, "api-auth-failure", client_ip()):
        wait = ratelimits.retry_after(limit, "api-auth-failure", client_ip())
        raise ApiError(429, "rate_limited",
                       _("Too many failed authentications from this address; wait a moment."),
                       {"Retry-After": str(wait)})
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if exc.status == 401 else {}
    raise ApiError(exc.status, exc.code, exc.message, headers)
