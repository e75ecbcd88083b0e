"""``portal-devkit sandbox`` runs the provider sandbox alone; ``portal-devkit demo`` runs the portal on
SQLite with the sandbox beside it, offline, with a demo user.

While the demo runs, its settings are also in the instance folder's ``portal.cfg``, so that operator
commands typed in another terminal (``portal withdrawals approve ID``) reach the demo's database and
sandbox. The file is the demo's only when it says so on its first line: one the operator wrote is
never replaced."""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import click

DEMO_USER = ("demo", "demo@example.com", "portal-demo-2026")
DEMO_PLANS = {
    "standard": {"name": {"zh_CN": "标准版", "en": "Standard"}, "price_fen": 9900,
                 "quotas": {"projects": 20, "containers": 50, "services": 20}},
    "pro": {"name": {"zh_CN": "专业版", "en": "Professional"}, "price_fen": 29900,
            "quotas": {"projects": 100, "containers": 200, "services": 100}},
}


DEMO_SETTINGS_MARKER = "# Written by portal-devkit demo"


class PortBusy(click.ClickException):
    exit_code = 2


def _listening(start, what: str, ports: str):
    """Run ``start()``, which binds ``ports``: a port in use is one line, not a traceback."""
    try:
        return start()
    except OSError as exc:
        raise PortBusy(f"cannot start the {what} on 127.0.0.1 ({ports}): {exc.strerror or exc}. "
                       f"Choose other ports (see --help).") from None


def _start_sandbox(port: int, smtp_port: int):
    from portal_devkit.sandbox import Sandbox

    sandbox = Sandbox(port=port, smtp_port=smtp_port)

    def start():
        try:
            return sandbox.start()
        except OSError:
            sandbox.stop()
            raise

    return _listening(start, "provider sandbox", f"HTTP port {port}, SMTP port {smtp_port}")


def write_demo_settings(instance_path: str, settings: dict) -> Path | None:
    """Write ``settings`` to ``<instance_path>/portal.cfg`` unless the file is someone else's; returns
    the path written, or None when an operator's own portal.cfg is there."""
    path = Path(instance_path) / "portal.cfg"
    if path.exists() and not _is_demo_settings(path):
        return None
    lines = [f"{DEMO_SETTINGS_MARKER} for operator commands (portal ...); removed when it stops",
             *(f"{key} = {value!r}" for key, value in settings.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    # The sandbox's keys are throwaway, but a settings file is for its owner's eyes only.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    return path


def remove_demo_settings(path: Path | None) -> None:
    if path is not None and path.exists() and _is_demo_settings(path):
        path.unlink()


def _is_demo_settings(path: Path) -> bool:
    return path.read_text(encoding="utf-8").startswith(DEMO_SETTINGS_MARKER)


def _stop_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


@click.group()
def cli():
    """Portal's development tools (not for production)."""


@cli.command("sandbox")
@click.option("--port", default=5001, show_default=True, help="HTTP port of the sandbox.")
@click.option("--smtp-port", default=2525, show_default=True, help="Port of its SMTP sink.")
def sandbox_command(port, smtp_port):
    """Run the provider sandbox on 127.0.0.1 and print the plugin settings that point at it."""
    sandbox = _start_sandbox(port, smtp_port)
    click.echo(f"Provider sandbox on {sandbox.url} (SMTP on 127.0.0.1:{sandbox.smtp_port})")
    click.echo("PLUGINS = " + json.dumps(sandbox.plugin_settings(), indent=2, ensure_ascii=False))
    sys.stdout.flush()
    sandbox.serve_forever()


@cli.command("demo")
@click.option("--port", default=5000, show_default=True, help="HTTP port of the portal.")
@click.option("--sandbox-port", default=5001, show_default=True, help="HTTP port of the provider sandbox.")
@click.option("--smtp-port", default=2525, show_default=True, help="Port of the sandbox's SMTP sink.")
def demo_command(port, sandbox_port, smtp_port):
    """Run the portal (development mode, SQLite in instance/) with the sandbox beside it."""
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.users import services
    from portal.users.models import User
    from portal_devkit.sandbox import serve

    sandbox = _start_sandbox(sandbox_port, smtp_port)
    public_url = f"http://127.0.0.1:{port}"
    settings = {
        "ENVIRONMENT": "development",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///demo.sqlite3",
        "PLUGINS": sandbox.plugin_settings(),
        "CSP_EXTRA_IMG_SOURCES": [sandbox.url],
        "PLANS": DEMO_PLANS,
        "PUBLIC_URL": public_url,
        # 实名认证 through the sandbox's Alipay identity verification.
        "REALNAME_BACKEND": "alipay_certify",
        # 提现 up to 100 yuan is approved at once and paid by the sandbox's Alipay; above that an
        # operator decides (portal withdrawals approve|reject).
        "WITHDRAWAL_AUTO_APPROVE_MAX_FEN": 10000,
    }
    app = create_app(settings)
    with app.app_context():
        upgrade()
        username, email, password = DEMO_USER
        if db.session.scalar(db.select(User).filter_by(username_key=username)) is None:
            user = services.register_user(username, email, password)
            services.mark_email_verified(user.primary_email)
    # Bound before anything is printed: the URLs below are only announced once they answer.
    server = _listening(lambda: serve("127.0.0.1", port, app), "portal",
                        f"port {port}")
    written = write_demo_settings(app.instance_path, settings)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    click.echo(f"Portal:   {public_url}/  (sign in as {username} / {password})")
    click.echo(f"Sandbox:  {sandbox.url}/  (messages with verification codes: {sandbox.url}/mail/)")
    if written:
        click.echo(f"Operator commands (portal withdrawals list, portal withdrawals approve ID, ...) act on "
                   f"this demo while it runs: its settings are in {written}")
    else:
        click.echo(f"Operator commands (portal ...) read your own {Path(app.instance_path) / 'portal.cfg'}, "
                   f"not this demo's settings.")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        remove_demo_settings(written)
        sandbox.stop()


def main() -> None:
    cli(prog_name="portal-devkit")
