"""``flask portal ...``: the operators' commands. Rooms add theirs in their own ``cli.py``."""
from __future__ import annotations

import importlib

import click
from flask.cli import AppGroup

portal_group = AppGroup("portal", help="Portal operator commands.")


@portal_group.command("plugins", with_appcontext=False)
def plugins_command():
    """List every installed plugin: name, version, enabled (yes, no, or unconfigured: installed
    but given no settings, so it stays off), missing settings."""
    from portal import load_config
    from portal.plugins import list_plugins

    # Listing needs no secret key nor PUBLIC_URL: it is how an operator finds out why the site will
    # not start.
    rows = list_plugins(load_config(serving=False))
    click.echo(f"{'name':<20} {'version':<10} {'enabled':<13} missing settings")
    for info in rows:
        missing = info.error or ", ".join(info.missing_config) or "-"
        click.echo(f"{info.name:<20} {info.version:<10} {info.enabled:<13} {missing}")


@portal_group.group("keys")
def keys_group():
    """Keys for personal data at rest (PERSONAL_DATA_KEYS, PERSONAL_DATA_LOOKUP_KEY)."""


@keys_group.command("new", with_appcontext=False)
@click.argument("key_id")
def new_key_command(key_id):
    """Print a fresh PERSONAL_DATA_KEYS entry named KEY_ID, and a fresh lookup key.

    Put the new entry first in PERSONAL_DATA_KEYS to encrypt with it; keep the lookup key once chosen
    (changing it needs every lookup hash recomputed)."""
    import base64
    import os

    from portal.crypto import new_key

    try:
        entry = new_key(key_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="KEY_ID") from None
    click.echo(f"PERSONAL_DATA_KEYS entry:  {entry}")
    click.echo(f"PERSONAL_DATA_LOOKUP_KEY:  {base64.urlsafe_b64encode(os.urandom(32)).rstrip(b'=').decode()}")


for _room in ("users", "accounts", "billing", "apikeys", "api", "mfa", "security_log", "realname", "withdrawals"):
    importlib.import_module(f"portal.{_room}.cli")


def main() -> None:
    """The ``portal`` console script: ``portal X`` is ``flask --app wsgi portal X``, except that
    commands which need no app (``plugins``) never build one."""
    import sys

    from flask.cli import ScriptInfo

    from portal import create_app
    from portal.config import ConfigError
    from portal.plugins import PluginError

    try:
        portal_group(obj=ScriptInfo(create_app=create_app), prog_name="portal")
    except (ConfigError, PluginError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
