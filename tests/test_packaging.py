"""The portal as an operator installs it: the wheels of the portal and of each bundled plugin, built
from a copy of the checkout and installed into a fresh virtualenv outside it, by the commands of
README.md "Running it for real", run as written. Slow (minutes: building, pip installing), so
marked ``packaging``: ``scripts/test -m packaging`` runs these alone."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from portal import ROOT

# One worker builds the virtualenv and runs them all.
# Building and installing the wheels counts against the first test's time limit.
pytestmark = [pytest.mark.packaging, pytest.mark.xdist_group("packaging"), pytest.mark.timeout(1500)]

README = (ROOT / "README.md").read_text(encoding="utf-8")
COPY_IGNORES = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build", "dist",
                                      "instance", "*.mo", "*.sqlite3", ".pytest_cache", "node_modules")
# The lines that install; the rest configures, migrates and serves.
INSTALL_LINES = 2


def readme_commands() -> list[str]:
    section = README.split("## Running it for real", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def substitute(lines: list[str], values: dict[str, str]) -> str:
    """The README's lines with its example values (paths, addresses) replaced by this run's; every
    example value must still be in the README, so a changed README fails here, not silently."""
    text = "\n".join(lines)
    for example, actual in values.items():
        assert example in text, f"README.md no longer says {example!r}"
        text = text.replace(example, actual)
    return text


def run(script: str, cwd: Path, env: dict | None = None, timeout: int = 900) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env or _clean_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    return done.stdout


def _clean_env() -> dict:
    """The environment of a fresh shell: nothing of this test run's PORTAL_* settings or virtualenv."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PORTAL_", "PYTEST", "VIRTUAL_ENV", "PYTHON"))}
    venv_bin = str(Path(sys.executable).parent)
    # The checkout's .venv supplies the `pip` and `python3` of the build machine.
    env["PATH"] = os.pathsep.join([venv_bin, *[p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin]])
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Runs the README's install lines in a copy of the checkout; returns (the /srv/portal stand-in,
    its virtualenv)."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "checkout"
    shutil.copytree(ROOT, source, ignore=COPY_IGNORES)
    home = work / "srv"
    home.mkdir()
    run(substitute(readme_commands()[:INSTALL_LINES], {"/srv/portal": str(home)}), cwd=source)
    return home, home / "venv"


def test_the_wheels_carry_templates_migrations_translations_and_no_devkit(installed, tmp_path):
    home, venv = installed
    python = str(venv / "bin" / "python")
    script = """
import importlib.util, pathlib, sys
import portal
package = pathlib.Path(portal.__file__).parent
assert "site-packages" in str(package), package
for needed in ("templates/base.html", "migrations/env.py", "static",
               "translations/zh_CN/LC_MESSAGES/messages.mo"):
    assert (package / needed).exists(), needed
assert importlib.util.find_spec("portal_devkit") is None, "the development kit was installed"
assert importlib.util.find_spec("gunicorn") is not None, "gunicorn is missing"
from importlib.metadata import entry_points
print(sorted(ep.name for ep in entry_points(group="portal.plugins")))
"""
    out = subprocess.run([python, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=_clean_env())
    assert out.returncode == 0, out.stderr
    bundled = sorted(p.name.removeprefix("portal-").replace("-", "_") for p in (ROOT / "plugins").iterdir()
                     if (p / "pyproject.toml").is_file())
    assert out.stdout.strip() == str(bundled)


def test_an_installed_portal_migrates_an_empty_database_and_renders_the_sign_in_page(installed, tmp_path):
    home, venv = installed
    env = {**_clean_env(), "PORTAL_SECRET_KEY": os.urandom(32).hex(), "PORTAL_PUBLIC_URL": "http://localhost",
           "PORTAL_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/portal.sqlite3",
           "PORTAL_INSTANCE_PATH": str(tmp_path / "instance")}
    run(f"{venv}/bin/flask --app portal.wsgi db upgrade", cwd=tmp_path, env=env)
    page = subprocess.run([str(venv / "bin" / "python"), "-c", """
from portal.wsgi import app
client = app.test_client()
page = client.get("/auth/sign-in")
assert page.status_code == 200, page.status_code
html = page.get_data(as_text=True)
assert 'name="csrf_token"' in html and "登录" in html, html[:2000]
css = [part.split('"')[0] for part in html.split('href="')[1:] if part.split('"')[0].endswith(".css")]
assert css and all(client.get(url).status_code == 200 for url in css), css
print("ok")
"""], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert page.returncode == 0 and page.stdout.strip() == "ok", page.stderr[-3000:]


def _fresh_postgres_database() -> str:
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not url:
        pytest.skip("the README's production path needs PostgreSQL: set PORTAL_TEST_DATABASE_URL")
    base = sa.engine.make_url(url)
    name = f"{base.database}_readme"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_page(url: str, server: subprocess.Popen, deadline_seconds: float = 300) -> requests.Response:
    """The first answer: gunicorn listens before its workers have loaded the app, so the first
    request may wait for a worker (long on a loaded machine)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            return requests.get(url, timeout=120)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_the_readme_production_commands_work_as_written(installed, tmp_path):
    home, venv = installed
    database_url = _fresh_postgres_database()
    redis_url = os.environ.get("PORTAL_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("the README's production path needs Redis: set PORTAL_TEST_REDIS_URL")
    port = _free_port()
    script = substitute(readme_commands()[INSTALL_LINES:], {
        "/srv/portal": str(home),
        "https://portal.example.com": f"http://127.0.0.1:{port}",
        "postgresql+psycopg://portal@127.0.0.1:5432/portal": database_url,
        "redis://127.0.0.1:6379/0": redis_url,
        "127.0.0.1:8000": f"127.0.0.1:{port}",
        "--workers 4": "--workers 2",
    })
    # The README's last line serves until stopped: run it in its own process group.
    server = subprocess.Popen(["bash", "-euo", "pipefail", "-c", f"exec 2>{tmp_path}/stderr\n{script}"],
                              cwd=tmp_path, env=_clean_env(), stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        page = _wait_for_page(f"http://127.0.0.1:{port}/auth/sign-in", server)
        assert page.status_code == 200, (tmp_path / "stderr").read_text()[-3000:]
        assert 'name="csrf_token"' in page.text and "登录" in page.text
        forged = requests.get(f"http://127.0.0.1:{port}/auth/sign-in", headers={"Host": "evil.example"}, timeout=120)
        assert forged.status_code == 400
    finally:
        os.killpg(server.pid, 15)
        output, _ = server.communicate(timeout=60)
    # `portal plugins` listed every bundled plugin, none configured yet.
    assert re.search(r"^alipay\s+\S+\s+unconfigured\s", output, re.M), output
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()
