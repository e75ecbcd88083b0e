"""``flask portal orders expire|reconcile|held|refund|refunds|refunds-reconcile`` and ``flask portal ledger
verify``: cron-safe on several machines at once (every change they make is a conditional update)."""
from __future__ import annotations

import getpass

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
    _reconcile_refunds(limit)


@orders_group.command("refund")
@click.argument("order_id", type=int)
@click.option("--amount", required=True, help="Yuan to give back, e.g. 12.50 (at most what is left of the order).")
@click.option("--reason", required=True, help="Why (the buyer may see it; at most 80 characters).")
@click.option("--operator", default=None, help="Who refunds (default: the system user running this).")
def refund_command(order_id, amount, reason, operator):
    """Refund all or part of paid recharge ORDER_ID through the channel that took it."""
    from portal.billing import refunds
    from portal.billing.amounts import AmountError, format_yuan, parse_yuan

    try:
        amount_fen = parse_yuan(amount, max_fen=10**14)
    except AmountError as exc:
        raise click.BadParameter(str(exc), param_hint="--amount") from None
    try:
        refund = refunds.refund_order(order_id, amount_fen, reason, operator or _system_user(),
                                      notify_url=refunds.notify_url_for(_order_channel(order_id)))
    except refunds.RefundError as exc:
        raise click.ClickException(str(exc)) from None
    what = f"refund {refund.out_refund_no} of {format_yuan(refund.amount_fen)} yuan for order {order_id}"
    if refund.state == refunds.SUCCEEDED:
        click.echo(f"{what}: succeeded")
    elif refund.state == refunds.FAILED:
        raise click.ClickException(f"{what}: refused by the channel ({refund.detail}); the balance was restored")
    else:
        click.echo(f"{what}: sent, waiting for the channel ({refund.channel_status or 'no answer'}); "
                   f"portal orders refunds-reconcile settles it")


@orders_group.command("refunds")
@click.argument("order_id", type=int)
def refunds_command(order_id):
    """The refunds of ORDER_ID, oldest first."""
    from portal.billing import refunds
    from portal.billing.amounts import format_yuan

    found = refunds.of_order(order_id)
    for refund in found:
        click.echo(f"{refund.out_refund_no}  {format_yuan(refund.amount_fen):>12}  {refund.state:<9}  "
                   f"{refund.created_at:%Y-%m-%d %H:%M} UTC  by {refund.operator}: {refund.reason}"
                   + (f"  [{refund.channel_status}]" if refund.channel_status else ""))
    click.echo(f"{len(found)} refund(s); {format_yuan(refunds.refunded_fen(order_id))} yuan refunded or on its way")


@orders_group.command("refunds-reconcile")
@click.option("--limit", default=500, show_default=True, help="Refunds per run, oldest first.")
def refunds_reconcile_command(limit):
    """Ask the channels about refunds still on their way (lost answers) and settle them."""
    _reconcile_refunds(limit)


def _reconcile_refunds(limit):
    from portal.billing import refunds

    report = refunds.reconcile(limit=limit)
    click.echo(f"checked {report.checked} open refunds: {report.succeeded} succeeded, "
               f"{report.failed} failed (debit released)")
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)


def _unrefunded(held):
    """Held orders not yet refunded in full (portal orders refund ORDER gives a held payment back)."""
    from portal.billing import refunds

    return [order for order in held if refunds.refunded_fen(order.id) < order.amount_fen]


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _order_channel(order_id) -> str:
    from portal.billing import orders

    order = orders.get_order(order_id)
    return order.channel if order is not None else ""


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


@orders_group.command("held")
def held_command():
    """Orders paid after their organization was deleted: credited to nobody, to refund at the channel
    (portal orders refund ORDER_ID); those refunded in full are no longer listed."""
    from portal.billing import orders

    held = _unrefunded(orders.held())
    for order in held:
        click.echo(
            f"order {order.id}: {order.channel} transaction {order.transaction_id}, {order.amount_fen} fen, "
            f"paid {order.paid_at:%Y-%m-%d %H:%M} UTC, account {order.account_id} (closed)"
        )
    click.echo(f"{len(held)} order(s) held for an operator")


@ledger_group.command("verify")
def verify_command():
    """Check that every balance equals the sum of its ledger entries, and every refund and withdrawal
    matches its entries (non-zero exit otherwise)."""
    from portal.billing import ledger, orders, refunds
    from portal.withdrawals import checks as withdrawal_checks

    found = ledger.verify()
    held = _unrefunded(orders.held())
    if held:
        click.echo(f"attention: {len(held)} payment(s) arrived for closed accounts and are held for an "
                   f"operator (portal orders held): {', '.join(str(o.id) for o in held)}")
    waiting = refunds.open_refunds_count()
    if waiting:
        click.echo(f"attention: {waiting} refund(s) are on their way at the channel, debited and not yet "
                   f"settled (portal orders refunds-reconcile)")
    withdrawing = withdrawal_checks.open_count()
    if withdrawing:
        click.echo(f"attention: {withdrawing} withdrawal(s) hold money while they wait for an operator or the "
                   f"channel (portal withdrawals list)")
    refund_problems = refunds.verify()
    for problem in refund_problems:
        click.echo(problem)
    if refund_problems:
        click.echo(f"MISMATCH: {len(refund_problems)} refund(s) disagree with the ledger")
    withdrawal_problems = withdrawal_checks.verify()
    for problem in withdrawal_problems:
        click.echo(problem)
    if withdrawal_problems:
        click.echo(f"MISMATCH: {len(withdrawal_problems)} withdrawal problem(s) with the ledger")
    if not found and not refund_problems and not withdrawal_problems:
        click.echo("ok: every balance equals the sum of its entries, every refund its debit and release, and "
                   "every withdrawal its hold and release")
        return
    for d in found:
        click.echo(
            f"account {d.account_id}: balance {d.balance_fen} fen, entries sum to {d.entries_sum_fen} fen "
            f"(difference {d.balance_fen - d.entries_sum_fen:+d} fen)"
        )
    if found:
        click.echo(f"MISMATCH: {len(found)} account(s) differ from their ledger")
    raise SystemExit(1)
    for d in found:
        click.echo(
            f"account {d.account_id}: balance {d.balance_fen} fen, entries sum to {d.entries_sum_fen} fen "
            f"(difference {d.balance_fen - d.entries_sum_fen:+d} fen)"
        )
    click.echo(f"MISMATCH: {len(found)} account(s) differ from their ledger")
    raise SystemExit(1)
