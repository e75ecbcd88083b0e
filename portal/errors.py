"""Error pages in the site's layout and the reader's language, JSON errors under /api/, and a 503
"database unavailable" instead of a 500 (or a hang) while the database cannot be reached.

Every failed request is logged on one line with its request id (portal/logs.py); a 503 for the
database is logged without a traceback, since an outage would repeat the same one for every request.
"""
from __future__ import annotations

import logging

from flask import g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from portal import database, logs
from portal.extensions import login_manager
from portal.i18n import lazy_gettext as _l

log = logging.getLogger(__name__)

# Seconds a client is asked to wait after a 503.
RETRY_AFTER_SECONDS = 5

PAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    403: (_l("Not allowed"), _l("You may not open this page.")),
    404: (_l("Page not found"), _l("There is no page at this address.")),
    405: (_l("Not allowed here"), _l("This page cannot be used this way.")),
    413: (_l("Too large"), _l("What you sent is too large.")),
    429: (_l("Too many requests"), _l("Too many attempts. Wait a moment and try again.")),
    500: (_l("Something went wrong"), _l("Something went wrong on our side. Please try again.")),
    503: (_l("Temporarily unavailable"),
          _l("The service cannot reach its database right now. Please try again in a minute.")),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _json(status: int, message: str, headers: dict | None = None):
    from portal.api.errors import DEFAULT_CODES, error_response

    code = "service_unavailable" if status == 503 else DEFAULT_CODES.get(status, "error")
    return error_response(status, code, str(message), headers)


def error_page(status: int, message=None, headers: dict | None = None):
    title, default = PAGES.get(status, PAGES[500] if status >= 500 else PAGES[400])
    if wants_json():
        return _json(status, message or default, headers)
    html = render_template("errors/error.html", status=status, title=title, message=message or default,
                           request_id=logs.request_id())
    return html, status, headers or {}


def _explicit_description(exc: HTTPException) -> str | None:
    """A description a view gave when aborting (translated there), not the class's English default."""
    default = type(exc).description
    return exc.description if exc.description and exc.description != default else None


def database_unavailable(exc: Exception):
    # The page must not touch the database again: no user, no account switcher, no user's language.
    _without_database()
    logs.failure(log, f"{request.method} {request.path} -> 503 database unavailable", exc, traceback=False)
    return error_page(503, headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"})


def _without_database() -> None:
    """Render what follows as nobody in particular: loading the signed-in user would need the database."""
    g.database_down = True
    g._login_user = login_manager.anonymous_user()


def init_app(app) -> None:
    unavailable = database.unavailable_errors()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, SecurityError):
            # A Host the portal does not serve (PUBLIC_URL, ALLOWED_HOSTS): Flask built no URL adapter
            # for it, so the layout (every link a url_for) cannot render; a misdirected request gets text.
            return "Bad request: this host is not served here.\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
        status = exc.code or 500
        if status >= 500:
            log.error("%s %s -> %d", request.method, request.path, status)
        if isinstance(exc, CSRFError):
            message = _l("This form has expired or was sent from another site. Reload the page and try again.")
        else:
            message = _explicit_description(exc)
        headers = dict(exc.get_headers()) if status in (405, 429, 503) else {}
        headers.pop("Content-Type", None)
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        return error_page(status, message, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, unavailable) or isinstance(getattr(exc, "__cause__", None), unavailable):
            return database_unavailable(exc)
        logs.failure(log, f"{request.method} {request.path} -> 500", exc)
        try:
            return error_page(500)
        except Exception as again:  # noqa: BLE001 - the layout itself failed (e.g. the database again)
            _without_database()
            logs.failure(log, "the error page failed too", again, traceback=False)
            return error_page(500)
