"""``portal sandbox`` runs the provider sandbox alone; ``portal demo`` runs the portal on SQLite
with the sandbox beside it, offline, with a demo user."""
from __future__ import annotations

import click

from portal.cli import portal_group

DEMO_USER = ("demo", "demo@example.com", "portal-demo-2026")
DEMO_PLANS = {
    "standard": {"name": {"zh_CN": "标准版", "en": "Standard"}, "price_fen": 9900,
                 "quotas": {"projects": 20, "containers": 50, "services": 20}},
    "pro": {"name": {"zh_CN": "专业版", "en": "Professional"}, "price_fen": 29900,
            "quotas": {"projects": 100, "containers": 200, "services": 100}},
}


@portal_group.command("sandbox", with_appcontext=False)
@click.option("--port", default=5001, show_default=True)
@click.option("--smtp-port", default=2525, show_default=True)
def sandbox_command(port, smtp_port):
    """Run the provider sandbox on 127.0.0.1 and print the plugin settings that point at it."""
    import json

    from portal.sandbox import Sandbox

    sandbox = Sandbox(port=port, smtp_port=smtp_port).start()
    click.echo(f"Provider sandbox on {sandbox.url} (SMTP on 127.0.0.1:{sandbox.smtp_port})")
    click.echo("PLUGINS = " + json.dumps(sandbox.plugin_settings(), indent=2, ensure_ascii=False))
    sandbox.serve_forever()


@portal_group.command("demo", with_appcontext=False)
@click.option("--port", default=5000, show_default=True)
@click.option("--sandbox-port", default=5001, show_default=True)
@click.option("--smtp-port", default=2525, show_default=True)
def demo_command(port, sandbox_port, smtp_port):
    """Run the portal (development mode, SQLite in instance/) with the sandbox beside it."""
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.sandbox import Sandbox
    from portal.users import services
    from portal.users.models import User

    sandbox = Sandbox(port=sandbox_port, smtp_port=smtp_port).start()
    app = create_app(
        {
            "ENVIRONMENT": "development",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///demo.sqlite3",
            "PLUGINS": sandbox.plugin_settings(),
            "CSP_EXTRA_IMG_SOURCES": [sandbox.url],
            "PLANS": DEMO_PLANS,
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
    )
    with app.app_context():
        upgrade()
        username, email, password = DEMO_USER
        if db.session.scalar(db.select(User).filter_by(username_key=username)) is None:
            user = services.register_user(username, email, password)
            services.mark_email_verified(user.primary_email)
    click.echo(f"Portal:   http://127.0.0.1:{port}/  (sign in as {username} / {password})")
    click.echo(f"Sandbox:  {sandbox.url}/  (messages with verification codes: {sandbox.url}/mail/)")
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False, threaded=True)
