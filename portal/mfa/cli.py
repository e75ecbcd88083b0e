"""``portal users reset-2fa`` and ``portal orgs require-2fa``: support removes the second factors of a
user who lost them; an operator makes an organization's managers use two-factor sign-in."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.cli import portal_group
from portal.users.cli import _find_user, users_group

orgs_group = AppGroup("orgs", help="Organization settings only operators change.")
portal_group.add_command(orgs_group)


@users_group.command("reset-2fa")
@click.argument("user")
@click.option("--reason", required=True,
              help="How support checked who the user is (ticket number, documents seen); kept in the security log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_2fa_command(user, reason, yes):
    """Remove USER's authenticator app, recovery codes and passkeys and end their sessions, once support
    has checked that the person asking is the account's owner."""
    from portal.mfa import services

    target = _find_user(user)
    if not yes:
        click.confirm(f"Remove every second factor of {target.username} (user ID {target.id})?", abort=True)
    with force_locale("en"):
        services.reset_by_operator(target, reason.strip()[:200])
    click.echo(f"Two-factor sign-in of {target.username} removed; their sessions ended; they were notified.")


@orgs_group.command("require-2fa")
@click.argument("slug")
@click.option("--off", is_flag=True, help="Stop requiring it.")
def require_2fa_command(slug, off):
    """Require two-factor sign-in of the owners and admins of organization SLUG (site-wide: set
    MFA_REQUIRED_FOR_ORG_MANAGERS = True)."""
    from portal.extensions import db
    from portal.orgs.services import find_org
    from portal.security_log import record_operator_action

    org = find_org(slug)
    if org is None:
        raise click.ClickException(f"no organization {slug!r}")
    org.require_2fa = not off
    record_operator_action("org_settings_changed", org_id=org.id, details={"require_2fa": not off})
    db.session.commit()
    click.echo(f"{org.slug}: two-factor sign-in {'no longer ' if off else ''}required of owners and admins.")


@users_group.command("rotate-2fa-key")
def rotate_2fa_key_command():
    """Re-encrypt every authenticator secret with the first key of PERSONAL_DATA_KEYS."""
    from portal.mfa.totp import reencrypt_all

    click.echo(f"re-encrypted {reencrypt_all()} authenticator secrets with the current key")
