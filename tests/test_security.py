"""The security floor every response and every cookie carries (docs: security-baseline)."""
from __future__ import annotations

import secrets

import pytest

from portal import create_app
from portal.passwords import common_passwords, password_problems

SECRET = secrets.token_hex(32)
DEVELOPMENT = {"ENVIRONMENT": "development", "SQLALCHEMY_DATABASE_URI": "sqlite://", "PLUGINS_ENABLED": []}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def production_app(_schema, tmp_path):
    """The app as it runs in production: default cookie settings, HTTPS."""
    from portal.extensions import db

    app = create_app(
        {"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": _schema, "PLUGINS_ENABLED": [],
         "PUBLIC_URL": "https://portal.example"},
        instance_path=str(tmp_path / "instance"),
    )
    yield app
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


def test_every_page_carries_the_security_headers(client):
    for url in ("/auth/sign-in", "/auth/sign-up", "/", "/no-such-page"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "default-src 'self'" in csp and "object-src 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_auth_pages_have_no_inline_script_or_style(client):
    for url in ("/auth/sign-in", "/auth/sign-up", "/auth/forgot-password"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>" not in html and "<script type" not in html
        assert " style=" not in html and "<style" not in html
        for tag in html.split("<script")[1:]:
            assert tag.lstrip().startswith("src="), tag[:80]


def test_development_has_no_hsts(tmp_path):
    app = create_app(DEVELOPMENT, instance_path=str(tmp_path / "instance"))
    assert "Strict-Transport-Security" not in app.test_client().get("/auth/sign-in").headers


def test_request_bodies_are_capped(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    response = client.post("/auth/sign-in", data={"login": "x" * (1024 * 1024 + 1), "password": "p"})
    assert response.status_code == 413


def test_production_cookies_are_secure_httponly_lax_and_host_bound(production_app):
    config = production_app.config
    assert config["SESSION_COOKIE_NAME"] == "__Host-portal"
    assert config["SESSION_COOKIE_SECURE"] is True and config["REMEMBER_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax" and config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert config["PERMANENT_SESSION_LIFETIME"].total_seconds() <= 12 * 3600
    assert config["REMEMBER_COOKIE_DURATION"].days <= 30

    from portal.users.services import mark_email_verified, register_user

    with production_app.app_context():
        mark_email_verified(register_user("alice", "alice@example.com", PASSWORD).primary_email)
    client = production_app.test_client()
    page = client.get("/auth/sign-in", base_url="https://portal.example")
    token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/auth/sign-in", base_url="https://portal.example",
        headers={"Referer": "https://portal.example/auth/sign-in"},
        data={"csrf_token": token, "login": "alice", "password": PASSWORD, "remember": "y"},
    )
    assert response.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    session_cookie = cookies["__Host-portal"]
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in session_cookie
    assert "Domain=" not in session_cookie
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookies["__Host-portal_remember"]
    assert "Domain=" not in cookies["__Host-portal_remember"]


def test_development_cookies_work_over_plain_http(tmp_path):
    app = create_app(DEVELOPMENT, instance_path=str(tmp_path / "instance"))
    assert app.config["SESSION_COOKIE_NAME"] == "portal_session"
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_the_common_password_list_covers_at_least_3000_that_fit_the_policy():
    fitting = [p for p in common_passwords() if 8 <= len(p) <= 1024]
    assert len(fitting) >= 3000
    assert {"password", "12345678", "qwertyuiop", "woaini1314", "iloveyou"} <= common_passwords()


def test_password_policy_allows_long_passphrases_and_any_characters(app):
    with app.test_request_context():
        assert password_problems("正确 马 电池 订书钉") == []
        assert password_problems("horse staple " * 78 + "x" * 10) == []
        assert password_problems("   spaces   around   ") == []
        assert password_problems("x" * 1025)
        assert password_problems("1234567")
        assert password_problems("PASSWORD")


def test_forms_may_lead_only_to_ourselves_and_the_enabled_providers(client, sandbox):
    # Browsers apply form-action to the redirect after a POST: the "sign in with" buttons must be
    # able to reach the provider's consent page, and nothing else.
    csp = client.get("/auth/sign-in").headers["Content-Security-Policy"]
    form_action = next(d for d in csp.split("; ") if d.startswith("form-action"))
    assert form_action == f"form-action 'self' {sandbox.url}"
