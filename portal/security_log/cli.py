"""``portal log prune``: forget security events past the retention (cron: daily)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.cli import portal_group

log_group = AppGroup("log", help="The security log.")
portal_group.add_command(log_group)


@log_group.command("prune")
@click.option("--days", type=click.IntRange(min=1), help="Keep this many days (default SECURITY_LOG_RETENTION_DAYS).")
def prune_command(days):
    """Remove security events older than the retention."""
    from portal.security_log.services import prune, retention_days

    kept = days or retention_days()
    click.echo(f"removed {prune(kept)} security events older than {kept} days")
