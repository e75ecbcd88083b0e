"""Every error of /api/v1 has one shape: ``{"error": {"code": "...", "message": "..."}}`` with the
status that says what happened. ``code`` is stable for programs; ``message`` is a sentence for
people, in the language the client asks for (Accept-Language)."""
from __future__ import annotations

from flask import current_app, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.i18n import gettext as _

# Codes for the statuses an error can have when nothing more specific was said.
DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
}


class ApiError(Exception):
    """An API request refused: raise it anywhere below a view. ``extra`` goes into the error object
    (e.g. ``remaining`` for an exhausted quota), ``headers`` onto the response."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, **extra):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, headers: dict | None = None, **extra):
    response = jsonify(error_body(code, message, **extra))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _field_errors(messages) -> dict[str, list[str]]:
    """webargs' {"json": {"delta": ["..."]}} -> {"delta": ["..."]} (nested fields dotted)."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix or "_body"] = [str(m) for m in (value if isinstance(value, list) else [value])]

    for location, errors in (messages or {}).items():
        if isinstance(errors, dict):
            walk("", errors)
        else:
            walk(str(location), errors)
    return flat


def _from_http_exception(exc: HTTPException):
    status = exc.code or 500
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if status == 422 and messages:
        fields = _field_errors(messages)
        message = _("The request is not valid: %(fields)s.", fields=", ".join(sorted(fields)))
        return error_response(422, "invalid_request", message, headers, fields=fields)
    if status == 400 and messages:
        return error_response(400, "malformed_json", _("The body is not valid JSON."), headers)
    message = {
        400: lambda: _("The request is malformed."),
        404: lambda: _("There is no such resource."),
        405: lambda: _("This method is not allowed here; see the Allow header."),
        413: lambda: _("The body is too large: at most %(size)d bytes.", size=max_body_size()),
        415: lambda: _("Send the body as JSON, with Content-Type: application/json."),
    }.get(status, lambda: exc.description or exc.name)()
    return error_response(status, DEFAULT_CODES.get(status, "error"), message, headers)


def max_body_size() -> int:
    return int(current_app.config.get("API_MAX_BODY_SIZE") or 64 * 1024)


def register(bp) -> None:
    """JSON errors for everything under the blueprint (unknown paths reach it too: see views)."""

    @bp.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, InternalServerError):
            return internal_error(exc)
        return _from_http_exception(exc)

    @bp.errorhandler(InternalServerError)
    def internal_error(_exc):
        # The traceback is logged by Flask; the client learns nothing about the inside.
        return error_response(500, "internal_error", _("Something went wrong on our side; please try again."))
