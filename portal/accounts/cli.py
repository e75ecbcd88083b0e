"""``flask portal quota ...``: operators view and adjust an account's usage and bonuses.

ACCOUNT is ``user:<username>`` or ``org:<slug>``."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.cli import portal_group

quota_group = AppGroup("quota", help="View and adjust accounts' quota usage and bonuses.")
portal_group.add_command(quota_group)


def _account(spec: str):
    from portal.accounts.access import personal_account
    from portal.extensions import db
    from portal.orgs.services import find_org, org_account
    from portal.users.models import User
    from portal.users.usernames import username_key

    kind, _, name = spec.partition(":")
    account = None
    if kind == "user" and name:
        try:
            user = db.session.scalar(db.select(User).filter_by(username_key=username_key(name)))
        except ValueError:
            user = None
        account = personal_account(user) if user else None
    elif kind == "org" and name:
        org = find_org(name)
        account = org_account(org) if org else None
    else:
        raise click.BadParameter(f"{spec!r}: give user:<username> or org:<slug>", param_hint="ACCOUNT")
    if account is None:
        raise click.ClickException(f"no account {spec!r}")
    return account


def _whole(value: str, what: str) -> int:
    # ASCII digits only: int() would also take "1_000" and non-ASCII digits.
    if not (value.isascii() and value.isdecimal()):
        raise click.BadParameter(f"{value!r} is not a whole number", param_hint=what)
    return int(value)


def _show(account) -> None:
    from portal.accounts import plans, quotas
    from portal.i18n import localized

    with force_locale("en"):
        owner = f"user {account.user.username}" if account.is_personal else f"org {account.org.slug}"
        plan = plans.plan(account.plan_key)
        click.echo(f"account {account.id} ({owner}), plan {plan.key}, balance {account.balance_fen} fen")
        click.echo(f"{'resource':<16} {'limit':>8} {'used':>8} {'left':>8}")
        for row in quotas.quota_table(account):
            click.echo(f"{row.resource.key:<16} {row.limit:>8} {row.used:>8} {row.left:>8}  {localized(row.resource.label)}")


@quota_group.command("show")
@click.argument("account")
def show_command(account):
    """Show ACCOUNT's plan and quota table."""
    _show(_account(account))


@quota_group.command("set-usage")
@click.argument("account")
@click.argument("resource")
@click.argument("used")
def set_usage_command(account, resource, used):
    """Set ACCOUNT's recorded usage of RESOURCE to USED (after counting what really runs)."""
    from portal.accounts import quotas
    from portal.extensions import db

    target = _account(account)
    try:
        quotas.set_usage(target.id, resource, _whole(used, "USED"))
    except quotas.QuotaExceeded as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    from portal.security_log import record_operator_action

    record_operator_action("operator_action", user_id=target.user_id, org_id=target.org_id,
                           details={"action": "set_usage", "resource": resource, "used": int(used)})
    db.session.commit()
    _show(target)


@quota_group.command("bonus")
@click.argument("account")
@click.argument("grants", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why, for the record.")
@click.option("--key", required=True, help="Unique forever: the same key never grants twice.")
def bonus_command(account, grants, reason, key):
    """Add quota on top of ACCOUNT's plan: GRANTS like projects=2 containers=5."""
    from portal.accounts import quotas
    from portal.extensions import db

    target = _account(account)
    parsed = {}
    for grant in grants:
        resource, sep, amount = grant.partition("=")
        if not sep or not resource:
            raise click.BadParameter(f"{grant!r}: write RESOURCE=AMOUNT", param_hint="GRANTS")
        parsed[resource] = _whole(amount, resource)
    try:
        granted = quotas.grant_bonus(target.id, parsed, reason, key)
    except quotas.QuotaExceeded as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    if granted:
        from portal.security_log import record_operator_action

        bonuses = {f"bonus_{resource}": amount for resource, amount in parsed.items()}
        record_operator_action("operator_action", user_id=target.user_id, org_id=target.org_id,
                               details={"action": "bonus", "reason": reason, **bonuses})
    db.session.commit()
    if not granted:
        raise click.ClickException(f"the key {key!r} was used before; nothing granted")
    _show(target)


plans_group = AppGroup("plans", help="Paid plans: renew them when their period ends.")
portal_group.add_command(plans_group)


@plans_group.command("renew")
@click.option("--limit", default=500, show_default=True, help="Accounts per run, longest overdue first.")
def renew_command(limit):
    """Charge every account whose paid period ended (once per period, safe to run concurrently);
    start the grace period when the balance is short, fall back to trial when grace is over."""
    from portal.accounts import renewals

    report = renewals.renew_due(limit=limit)
    click.echo(f"renewed {report.renewed}, switched {report.switched}, in grace {report.in_grace}, "
               f"back on trial {report.fell_back}")
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)
