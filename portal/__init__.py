"""Portal: an identity and account center for cloud platforms."""
from __future__ import annotations

import copy
import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config as portal_config

ROOT = Path(__file__).resolve().parent.parent

# The core's rooms, each a package with a ``views.bp`` blueprint.
ROOMS = ("auth", "users", "accounts", "orgs", "identities", "billing")


def load_config(config=None, instance_path=None, check_secret_key: bool = True) -> dict:
    """Defaults, then instance/portal.cfg, then PORTAL_* environment variables, then ``config``."""
    app = Flask("portal-config", instance_path=instance_path, instance_relative_config=True)
    app.config.from_object(portal_config.DefaultConfig)
    # Nested defaults (PLUGINS, LANGUAGES, ...) are copied, so that one app's settings never leak into
    # the defaults of the next.
    app.config.update(copy.deepcopy(dict(app.config)))
    app.config.from_pyfile("portal.cfg", silent=True)
    app.config.from_prefixed_env("PORTAL")
    if config:
        app.config.update(config)
    portal_config.finalize(app.config, check_secret_key)
    return app.config


def create_app(config=None, instance_path=None) -> Flask:
    app = Flask(
        __name__,
        instance_path=instance_path or os.environ.get("PORTAL_INSTANCE_PATH") or str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    app.config.update(load_config(config, app.instance_path))
    if app.config["TRUSTED_PROXY_COUNT"]:
        count = int(app.config["TRUSTED_PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    from portal import extensions, i18n, ratelimits, security, user_center
    from portal.auth import sessions
    from portal.plugins import create_plugin_manager

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(ROOT / "migrations"))
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    ratelimits.init_app(app)
    extensions.bootstrap.init_app(app)
    i18n.init_app(app)
    sessions.init_app(app)
    security.init_app(app)

    app.extensions["portal.plugins"] = pm = create_plugin_manager(app.config)

    import importlib

    for room in ROOMS:
        app.register_blueprint(importlib.import_module(f"portal.{room}.views").bp)
    for blueprints in pm.hook.portal_blueprints():
        for blueprint in blueprints or ():
            app.register_blueprint(blueprint)
    user_center.init_app(app)

    from portal.cli import portal_group

    app.cli.add_command(portal_group)
    pm.hook.portal_init_app(app=app)
    return app
