"""``flask portal api purge``: forget the answers kept for Idempotency-Keys once their 24 hours pass."""
from __future__ import annotations

import click

from portal.cli import portal_group


@portal_group.group("api")
def api_group():
    """The JSON API (/api/v1)."""


@api_group.command("purge")
def purge_command():
    """Delete answers stored for Idempotency-Keys more than 24 hours ago (cron: daily)."""
    from portal.api import usage

    click.echo(f"deleted {usage.purge()} stored answers older than 24 hours")
