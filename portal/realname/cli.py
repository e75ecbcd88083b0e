"""``flask portal realname ...``: operators review, decide, reset and re-encrypt verifications.

Output shows names and ID numbers masked, never in clear."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.cli import portal_group

realname_group = AppGroup("realname", help="Review and manage real-name verifications (实名认证).")
portal_group.add_command(realname_group)


def _user(login: str):
    from portal.extensions import db
    from portal.users.models import User
    from portal.users.usernames import username_key

    try:
        user = db.session.scalar(db.select(User).filter_by(username_key=username_key(login)))
    except ValueError:
        user = None
    if user is None:
        raise click.ClickException(f"no user {login!r}")
    return user


def _attempt(attempt_id: int):
    from portal.extensions import db
    from portal.realname.models import Verification

    verification = db.session.get(Verification, attempt_id)
    if verification is None:
        raise click.ClickException(f"no verification {attempt_id}")
    return verification


def _site_locale():
    from flask import current_app

    return force_locale(current_app.config["BABEL_DEFAULT_LOCALE"])


@realname_group.command("pending")
def pending_command():
    """List pending verifications (masked), oldest first."""
    from portal.realname import services

    rows = services.pending_review()
    if not rows:
        click.echo("no pending verifications")
        return
    click.echo(f"{'id':>6}  {'user':<20} {'backend':<16} {'name':<10} {'id number':<20} started (UTC)")
    for row in rows:
        shown = services.display(row)
        click.echo(f"{row.id:>6}  {row.user.username:<20} {row.backend:<16} {shown.name:<10} "
                   f"{shown.cert_no:<20} {row.created_at:%Y-%m-%d %H:%M}")


def _decide(attempt_id: int, approve: bool, reason: str | None):
    from portal.realname import services

    with _site_locale():
        try:
            verification = services.decide(_attempt(attempt_id), approve, reason)
        except services.RealnameError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(f"verification {verification.id} of {verification.user.username}: {verification.status}"
               + (f" ({verification.reason})" if verification.reason else ""))


@realname_group.command("approve")
@click.argument("attempt_id", type=click.IntRange(1))
def approve_command(attempt_id):
    """Approve a verification waiting for review (after checking the documents)."""
    _decide(attempt_id, True, None)


@realname_group.command("reject")
@click.argument("attempt_id", type=click.IntRange(1))
@click.option("--reason", required=True, help="Shown to the user; no personal data.")
def reject_command(attempt_id, reason):
    """Reject a verification waiting for review, with the reason the user will see."""
    _decide(attempt_id, False, reason)


@realname_group.command("reset")
@click.argument("login")
@click.option("--reason", default=None, help="Kept with the revoked attempts.")
def reset_command(login, reason):
    """Make USER unverified again, and forget their attempts of the last 24 hours."""
    from portal.realname import services

    user = _user(login)
    changed = services.reset(user, reason)
    click.echo(f"{user.username}: {changed} attempt(s) revoked; the user may verify again")


@realname_group.command("rotate-key")
def rotate_key_command():
    """Re-encrypt every stored name and ID number with the first key of PERSONAL_DATA_KEYS (and
    recompute lookup hashes with PERSONAL_DATA_LOOKUP_KEY). Safe to run again."""
    from portal import crypto
    from portal.realname import services

    changed = services.rotate_keys()
    click.echo(f"{changed} verification(s) re-encrypted with key {crypto.keyring().current_key_id!r}")


@realname_group.command("expire")
def expire_command():
    """Ask about attempts past their deadline and expire those still unfinished (cron: hourly)."""
    from portal.realname import services

    with _site_locale():
        click.echo(f"{services.expire_due()} attempt(s) expired")
