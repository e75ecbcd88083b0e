"""``portal withdrawals list|approve|reject|reconcile``: operators decide; cron settles. Every change is a
conditional state change, so these are safe to run concurrently (reconcile from cron on several
machines)."""
from __future__ import annotations

import getpass

import click

from portal.cli import portal_group


def _operator(given: str | None) -> str:
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _yuan(fen: int) -> str:
    from portal.billing.amounts import format_yuan

    return format_yuan(fen)


@portal_group.group("withdrawals")
def withdrawals_group():
    """提现: list, approve or reject withdrawals, and settle those being paid."""


@withdrawals_group.command("list")
@click.option("--state", multiple=True, help="Only these states (pending, sending, succeeded, failed, rejected).")
@click.option("--all", "everything", is_flag=True, help="Every state (default: pending and sending).")
@click.option("--limit", default=100, show_default=True)
def list_command(state, everything, limit):
    """Withdrawals, oldest first: pending and sending ones unless told otherwise."""
    from portal.withdrawals import services
    from portal.withdrawals.models import OPEN, STATES

    unknown = set(state) - set(STATES)
    if unknown:
        raise click.BadParameter(f"unknown state {', '.join(sorted(unknown))}", param_hint="--state")
    rows = services.listed(None if everything else (state or OPEN), limit)
    if not rows:
        click.echo("No withdrawals.")
    for w in rows:
        click.echo(f"{w.id}\t{w.state}\t¥{_yuan(w.amount_fen)}\taccount {w.account_id}\tuser {w.user_id}\t"
                   f"{w.channel} {w.payee_masked}\t{w.created_at:%Y-%m-%d %H:%M:%S}\t{w.out_biz_no}"
                   + (f"\t{w.channel_status}" if w.channel_status else "")
                   + (f"\t{w.reason}" if w.reason else ""))


@withdrawals_group.command("approve")
@click.argument("withdrawal_id", type=int)
@click.option("--operator", default=None, help="Who approves (default: the system user running this).")
def approve_command(withdrawal_id, operator):
    """Approve a pending withdrawal and pay it through its channel."""
    from portal.withdrawals import services

    try:
        w = services.approve(withdrawal_id, _operator(operator))
    except services.WithdrawalError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Withdrawal {w.id}: {w.state}" + (f" ({w.channel_status})" if w.channel_status else "")
               + (f": {w.reason}" if w.reason else ""))
    if w.state == "sending":
        click.echo("The channel's answer is not final: `portal withdrawals reconcile` settles it.")


@withdrawals_group.command("reject")
@click.argument("withdrawal_id", type=int)
@click.option("--reason", required=True, help="Why (shown to the user).")
@click.option("--operator", default=None, help="Who rejects (default: the system user running this).")
def reject_command(withdrawal_id, reason, operator):
    """Reject a pending withdrawal: the held amount goes back to the balance."""
    from portal.withdrawals import services

    try:
        w = services.reject(withdrawal_id, reason, _operator(operator))
    except services.WithdrawalError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Withdrawal {w.id}: rejected; ¥{_yuan(w.amount_fen)} released to account {w.account_id}.")


@withdrawals_group.command("reconcile")
@click.option("--limit", default=500, show_default=True)
def reconcile_command(limit):
    """Settle withdrawals being paid by asking their channel (same out_biz_no; safe from cron)."""
    from portal.withdrawals import services

    report = services.reconcile(limit=limit)
    click.echo(f"Checked {report.checked}: {report.succeeded} paid, {report.failed} failed.")
    for problem in report.problems:
        click.echo(problem, err=True)
    if report.problems:
        raise SystemExit(1)
