"""Portal: an identity and account center for cloud platforms."""
from __future__ import annotations

import copy
import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config as portal_config

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent


def resource_folder(name: str) -> Path:
    """``templates`` or ``migrations``: inside the package once built (setup.py copies them
    there), the checkout's top-level folder when running from source."""
    bundled = PACKAGE / name
    return bundled if bundled.is_dir() else ROOT / name

# The core's rooms, each a package with a ``views.bp`` blueprint.
ROOMS = ("auth", "users", "accounts", "orgs", "identities", "billing", "apikeys", "api", "mfa", "devices",
         "security_log", "realname", "withdrawals")
# Blueprints a room keeps beside its views.bp.
MORE_BLUEPRINTS = ("portal.billing.refund_views",)


def _checkout_instance_path() -> str | None:
    """``instance/`` beside the code in a checkout; None (Flask's ``<prefix>/var/portal-instance``)
    for an installed package, whose parent folder is site-packages."""
    return str(ROOT / "instance") if (ROOT / "setup.cfg").is_file() else None


def load_config(config=None, instance_path=None, serving: bool = True) -> dict:
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
    portal_config.finalize(app.config, serving)
    return app.config


def create_app(config=None, instance_path=None) -> Flask:
    app = Flask(
        __name__,
        instance_path=instance_path or os.environ.get("PORTAL_INSTANCE_PATH") or _checkout_instance_path(),
        instance_relative_config=True,
        template_folder=str(resource_folder("templates")),
    )
    app.config.update(load_config(config, app.instance_path))
    if app.config["TRUSTED_PROXY_COUNT"]:
        count = int(app.config["TRUSTED_PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    from portal import crypto, database, errors, extensions, health, i18n, ids, logs, ratelimits, security
    from portal import user_center
    from portal.auth import sessions
    from portal.plugins import create_plugin_manager, declared_settings

    logs.init_app(app)
    ids.init_app(app)
    crypto.init_app(app)
    database.init_app(app)
    extensions.db.init_app(app)
    database.watch_engines(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(resource_folder("migrations")))
    extensions.csrf.init_app(app)
    ratelimits.init_app(app)
    extensions.limiter.init_app(app)
    extensions.bootstrap.init_app(app)
    i18n.init_app(app)
    sessions.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.bp)

    app.extensions["portal.plugins"] = pm = create_plugin_manager(app.config)
    app.extensions["portal.plugin_settings"] = declared_settings(pm)

    import importlib

    for room in ROOMS:
        app.register_blueprint(importlib.import_module(f"portal.{room}.views").bp)
    for module in MORE_BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module).bp)
    for blueprints in pm.hook.portal_blueprints():
        for blueprint in blueprints or ():
            app.register_blueprint(blueprint)
    user_center.init_app(app)

    from portal.cli import portal_group

    app.cli.add_command(portal_group)
    pm.hook.portal_init_app(app=app)
    _check_plugin_offers(app)
    return app


def _check_plugin_offers(app: Flask) -> None:
    """Build the OAuth providers and payment channels now, so that two plugins offering the same
    name (or a channel that cannot be built from its settings) stop startup instead of the first
    request that needs them."""
    from portal.billing.channels import payment_channels
    from portal.identities.oauth import providers

    with app.app_context():
        providers(app)
        payment_channels(app)
