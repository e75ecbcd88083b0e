"""``flask portal orders expire|reconcile`` and ``flask portal ledger verify``: cron-safe on several
machines at once (every change they make is a conditional update)."""
from __future__ import annotations

import click

from portal.cli import portal_group


@portal_group.group("orders")
def orders_group():
    """Recharge orders: settle them with the channels."""


@portal_group.group("ledger")
def ledger_group():
    """The balances' ledger."""


@orders_group.command("reconcile")
@click.option("--limit", default=500, show_default=True, help="Orders per run, oldest first.")
def reconcile_command(limit):
    """Ask the channels about pending orders and credit the paid ones (lost notifications)."""
    from portal.billing import reconcile

    report = reconcile.reconcile_pending(limit=limit)
    click.echo(f"checked {report.checked} pending orders, credited {report.credited}")
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)


@orders_group.command("expire")
@click.option("--limit", default=500, show_default=True, help="Orders per run, oldest first.")
def expire_command(limit):
    """Expire pending orders past their expiry: query, close at the channel, re-query, expire."""
    from portal.billing import reconcile

    report = reconcile.expire_due(limit=limit)
    click.echo(
        f"checked {report.checked} orders past expiry, credited {report.credited}, expired {report.expired}"
    )
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)


@ledger_group.command("verify")
def verify_command():
    """Check that every balance equals the sum of its ledger entries (non-zero exit otherwise)."""
    from portal.billing import ledger

    found = ledger.verify()
    if not found:
        click.echo("ok: every balance equals the sum of its entries")
        return
    for d in found:
        click.echo(
            f"account {d.account_id}: balance {d.balance_fen} fen, entries sum to {d.entries_sum_fen} fen "
            f"(difference {d.balance_fen - d.entries_sum_fen:+d} fen)"
        )
    click.echo(f"MISMATCH: {len(found)} account(s) differ from their ledger")
    raise SystemExit(1)
