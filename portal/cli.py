"""``flask portal ...``: the operators' commands. Rooms add theirs in their own ``cli.py``."""
from __future__ import annotations

import importlib

import click
from flask.cli import AppGroup

portal_group = AppGroup("portal", help="Portal operator commands.")


@portal_group.command("plugins", with_appcontext=False)
def plugins_command():
    """List every installed plugin: name, version, enabled, missing settings."""
    from portal import load_config
    from portal.plugins import list_plugins

    # Listing needs no secret key: it is how an operator finds out why the site will not start.
    rows = list_plugins(load_config(check_secret_key=False))
    click.echo(f"{'name':<20} {'version':<10} {'enabled':<8} missing settings")
    for info in rows:
        missing = info.error or ", ".join(info.missing_config) or "-"
        click.echo(f"{info.name:<20} {info.version:<10} {'yes' if info.enabled else 'no':<8} {missing}")


for _room in ("users", "accounts", "billing", "sandbox"):
    importlib.import_module(f"portal.{_room}.cli")


def main() -> None:
    """The ``portal`` console script: ``portal X`` is ``flask --app wsgi portal X``, except that
    commands which need no app (``demo``, ``sandbox``, ``plugins``) never build one."""
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
