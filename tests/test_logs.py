"""Log lines carry the time and the request id; JSON when LOG_FORMAT says so."""
from __future__ import annotations

import json
import logging

from portal import logs


def test_request_ids_come_from_the_proxy_or_are_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "edge-123"}).headers["X-Request-ID"] == "edge-123"
    made = client.get("/healthz", headers={"X-Request-ID": "not a token <script>"}).headers["X-Request-ID"]
    assert made != "not a token <script>" and len(made) == 16


def test_json_lines_carry_time_level_and_request_id(app):
    record = logging.LogRecord("portal.test", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
    with app.test_request_context(headers={"X-Request-ID": "req-1"}):
        logs.RequestIdFilter().filter(record)
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["request_id"] == "req-1" and entry["message"] == "failed x" and entry["level"] == "ERROR"
    assert entry["time"]
    text = logging.Formatter(logs.TEXT_FORMAT).format(record)
    assert "[req-1]" in text and "ERROR" in text


def test_the_portal_loggers_get_the_configured_level(portal_config, tmp_path):
    from portal import create_app

    create_app(dict(portal_config, LOG_LEVEL="warning"), instance_path=str(tmp_path / "i"))
    assert logging.getLogger("portal").level == logging.WARNING
    create_app(dict(portal_config, LOG_LEVEL="INFO"), instance_path=str(tmp_path / "j"))
    assert logging.getLogger("portal").level == logging.INFO
