"""Logging set up by the portal: one format with the time and the request's id (text or JSON, by
LOG_FORMAT), at LOG_LEVEL; and failures logged as one line each, with a traceback only for the first
failure of a kind in a minute, so an outage does not bury the log under identical tracebacks.

Each request has an id: the proxy's X-Request-ID when it is a plain token, else a new one; it is
sent back in the X-Request-ID header and shown on error pages, so a person's report finds its line.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import uuid

from flask import g, has_request_context, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
TRACEBACK_INTERVAL_SECONDS = 60


def request_id() -> str:
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
    return g.request_id


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT)


def init_app(app) -> None:
    """Install one handler on the root logger unless the host (a test runner, a logging config given
    to gunicorn) installed its own; the portal's loggers get LOG_LEVEL either way."""
    from flask.logging import default_handler

    root = logging.getLogger()
    if not any(getattr(h, "portal_handler", False) for h in root.handlers) and not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.portal_handler = True
        root.addHandler(handler)
    for handler in root.handlers:
        if getattr(handler, "portal_handler", False):
            handler.setFormatter(formatter(app.config.get("LOG_FORMAT", "text")))
            if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.addFilter(RequestIdFilter())
    logging.getLogger("portal").setLevel(str(app.config.get("LOG_LEVEL", "INFO")).upper())
    app.logger.removeHandler(default_handler)

    @app.after_request
    def send_request_id(response):
        response.headers.setdefault("X-Request-ID", request_id())
        return response


_seen: dict[tuple, float] = {}
_seen_lock = threading.Lock()


def _first_in_a_while(key: tuple) -> bool:
    now = time.monotonic()
    with _seen_lock:
        if now - _seen.get(key, -TRACEBACK_INTERVAL_SECONDS) < TRACEBACK_INTERVAL_SECONDS:
            return False
        _seen[key] = now
        return True


def failure(logger: logging.Logger, message: str, exc: BaseException, traceback: bool = True) -> None:
    """Log ``message`` and the error on one line; with its traceback when ``traceback`` and it is the
    first error of its kind and place this minute."""
    where = exc.__traceback__
    while where is not None and where.tb_next is not None:
        where = where.tb_next
    key = (type(exc), where.tb_frame.f_code.co_filename if where else "", where.tb_lineno if where else 0)
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    logger.error("%s: %s: %s", message, type(exc).__name__, detail,
                 exc_info=exc if traceback and _first_in_a_while(key) else None)
