"""``flask portal apikeys expiry``: cron-safe on several machines at once."""
from __future__ import annotations

import click

from portal.cli import portal_group


@portal_group.group("apikeys")
def apikeys_group():
    """API keys."""


@apikeys_group.command("expiry")
@click.option("--limit", default=500, show_default=True, help="Keys per run and kind, soonest first.")
def expiry_command(limit):
    """Email owners of keys expiring within 7 days, and tell them when a key has expired (each once)."""
    from portal.apikeys import expiry

    report = expiry.run(limit=limit)
    click.echo(f"announced {report.announced} keys expiring soon, reported {report.reported} expired keys")
