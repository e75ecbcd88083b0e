"""Error pages in the site's layout and the reader's language, JSON under /api/, 503 while the
database is unavailable, and one log line per failed request."""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from flask import abort

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def app(app):
    def fail(kind):
        if kind == "bug":
            raise RuntimeError("a bug")
        if kind == "database":
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("could not connect to server"))
        abort(int(kind))

    app.add_url_rule("/_test/fail/<kind>", view_func=fail)
    app.add_url_rule("/api/v1/_test/fail/<kind>", "api_fail", view_func=fail)
    return app


@pytest.mark.parametrize("status, zh, en", [
    (403, "无权访问", "Not allowed"),
    (404, "页面不存在", "Page not found"),
    (429, "请求过于频繁", "Too many requests"),
    (500, "出错了", "Something went wrong"),
    (503, "暂时无法使用", "Temporarily unavailable"),
])
def test_error_pages_speak_the_readers_language_in_the_layout(client, status, zh, en):
    page = client.get(f"/_test/fail/{status}", headers=ZH)
    assert page.status_code == status
    html = page.get_data(as_text=True)
    assert zh in html and "portal-navbar" in html and page.headers["X-Request-ID"] in html
    english = client.get(f"/_test/fail/{status}", headers=EN)
    assert en in english.get_data(as_text=True)


def test_unknown_pages_and_wrong_methods(client):
    assert "页面不存在" in client.get("/no/such/page", headers=ZH).get_data(as_text=True)
    wrong = client.post("/healthz", headers=EN)
    assert wrong.status_code == 405 and "Not allowed here" in wrong.get_data(as_text=True)
    assert "GET" in wrong.headers["Allow"]


def test_too_large_a_body(app, client):
    big = client.post("/auth/sign-in", data={"login": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)}, headers=EN)
    assert big.status_code == 413 and "too large" in big.get_data(as_text=True)


def test_a_refused_form_token_says_so(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.post("/auth/sign-in", data={"login": "a", "password": "b"}, headers=EN)
    assert page.status_code == 400 and "This form has expired" in page.get_data(as_text=True)


def test_api_paths_answer_json(client):
    for kind, status, code in [("bug", 500, "internal_error"), ("database", 503, "service_unavailable"),
                               ("404", 404, "not_found")]:
        answer = client.get(f"/api/v1/_test/fail/{kind}")
        assert answer.status_code == status and answer.get_json()["error"]["code"] == code


def test_a_database_outage_is_a_503_logged_on_one_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="portal"):
        for _ in range(3):
            page = client.get("/_test/fail/database", headers=ZH)
            assert page.status_code == 503 and page.headers["Retry-After"]
            assert "服务暂时无法连接数据库" in page.get_data(as_text=True)
    lines = [r for r in caplog.records if r.name == "portal.errors"]
    assert len(lines) == 3 and all(r.exc_info is None for r in lines)


def test_a_bug_logs_its_traceback_once_a_minute_then_one_line(client, caplog, monkeypatch):
    from portal import logs

    monkeypatch.setattr(logs, "_seen", {})  # earlier tests in this process raised the same bug
    with caplog.at_level(logging.INFO, logger="portal"):
        for _ in range(3):
            assert client.get("/_test/fail/bug").status_code == 500
    lines = [r for r in caplog.records if r.name == "portal.errors"]
    assert len(lines) == 3
    assert [r.exc_info is not None for r in lines] == [True, False, False]
    assert all("RuntimeError: a bug" in r.getMessage() for r in lines)
