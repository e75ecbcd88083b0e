"""The app factory: where settings come from, and what it refuses to start with."""
from __future__ import annotations

import secrets

import pytest

from portal import create_app
from portal.config import DEVELOPMENT_SECRET_KEY

SECRET = secrets.token_hex(32)


def make(tmp_path, **config):
    settings = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "PLUGINS_ENABLED": [],
                "PUBLIC_URL": "https://portal.example", **config}
    return create_app(settings, instance_path=str(tmp_path / "instance"))


def test_defaults_then_instance_file_then_environment_then_argument(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "portal.cfg").write_text('SITE_NAME = "From file"\nSECRET_KEY = "%s"\n' % SECRET)
    app = make(tmp_path)
    assert app.config["SITE_NAME"] == "From file" and app.config["SECRET_KEY"] == SECRET
    monkeypatch.setenv("PORTAL_SITE_NAME", "From env")
    monkeypatch.setenv("PORTAL_PASSWORD_ARGON2_TIME_COST", "3")
    app = make(tmp_path)
    assert app.config["SITE_NAME"] == "From env"
    assert app.config["PASSWORD_ARGON2_TIME_COST"] == 3
    assert make(tmp_path, SITE_NAME="From argument").config["SITE_NAME"] == "From argument"


def test_production_refuses_a_missing_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        make(tmp_path)


def test_production_refuses_the_development_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="development default"):
        make(tmp_path, SECRET_KEY=DEVELOPMENT_SECRET_KEY)


@pytest.mark.parametrize("key, reason", [
    ("9f86d081884c7d659a2feaa0c55ad015", "is too short"),             # 16 bytes in hex
    ("s" * 64, "is not random"),
    ("0123456789abcdef" * 4, "is not random"),
    ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "is not random"),
    ("correct-horse-battery-staple-correct-horse-battery", "is not random"),
])
def test_production_refuses_a_short_or_predictable_secret_key(tmp_path, key, reason):
    with pytest.raises(RuntimeError, match=f"^SECRET_KEY {reason}.*at least 32 random bytes"):
        make(tmp_path, SECRET_KEY=key)


@pytest.mark.parametrize("generate", [secrets.token_hex, secrets.token_urlsafe, secrets.token_bytes])
def test_production_accepts_32_random_bytes_in_any_usual_form(tmp_path, generate):
    key = generate(32)
    assert make(tmp_path, SECRET_KEY=key).config["SECRET_KEY"] == key


def test_anything_but_development_counts_as_production(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError):
        make(tmp_path, ENVIRONMENT="staging")


def test_development_runs_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    app = make(tmp_path, ENVIRONMENT="development")
    assert app.config["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_argon2_defaults_meet_the_owasp_minimum(tmp_path):
    config = make(tmp_path, SECRET_KEY=SECRET).config
    assert config["PASSWORD_ARGON2_MEMORY_KIB"] >= 19456
    assert config["PASSWORD_ARGON2_TIME_COST"] >= 2
    assert config["PASSWORD_ARGON2_PARALLELISM"] >= 1


def test_every_room_has_its_blueprint(tmp_path):
    app = make(tmp_path, SECRET_KEY=SECRET)
    for room in ("auth", "users", "accounts", "orgs", "identities", "billing"):
        assert room in app.blueprints
    assert "index" in app.view_functions


def test_operators_get_a_message_not_a_traceback_when_the_config_is_wrong(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_INSTANCE_PATH"] = str(tmp_path)
    script = "from portal.cli import main; main()"
    refused = subprocess.run([sys.executable, "-c", script, "quota", "show", "user:x"], env=env,
                             capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "Error: SECRET_KEY is not set: set PORTAL_SECRET_KEY (or SECRET_KEY in instance/portal.cfg).")
    # Listing plugins needs no secret: it is how an operator finds out what is missing.
    listed = subprocess.run([sys.executable, "-c", script, "plugins"], env=env,
                            capture_output=True, text=True, cwd=tmp_path)
    assert listed.returncode == 0 and "missing settings" in listed.stdout
