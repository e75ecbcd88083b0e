"""Configuration: defaults, then ``instance/portal.cfg``, then ``PORTAL_*`` environment variables.

``PORTAL_SECRET_KEY=...`` sets ``SECRET_KEY``; values are parsed as JSON when they can be, and
nested keys use a double underscore (``PORTAL_PLUGINS__github__client_id=...``).
"""
from __future__ import annotations

from datetime import timedelta

DEVELOPMENT_SECRET_KEY = "development-only-secret-key"


class DefaultConfig:
    # "development" relaxes cookie security and allows the built-in secret key; anything else is
    # treated as production.
    ENVIRONMENT = "production"
    SECRET_KEY = None

    SQLALCHEMY_DATABASE_URI = "sqlite:///portal.sqlite3"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # Plugins: PLUGINS_ENABLED is an allow-list (None = every installed plugin), PLUGINS_DISABLED a
    # block-list; blocked plugins are never imported. PLUGINS holds each plugin's settings, where a
    # value {"$env": "NAME"} is read from the environment variable NAME.
    PLUGINS_ENABLED = None
    PLUGINS_DISABLED = ()
    PLUGINS = {}

    # Sessions (security-baseline: absolute lifetime <= 12 h, remember cookie <= 30 d).
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # None: Secure everywhere but in development (Flask's own default, False, would leak the
    # cookie over plain HTTP).
    SESSION_COOKIE_SECURE = None
    REMEMBER_COOKIE_SECURE = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    MAX_CONTENT_LENGTH = 1024 * 1024
    WTF_CSRF_TIME_LIMIT = 3600

    # Argon2id parameters; the defaults sit above the OWASP minimum (m=19 MiB, t=2, p=1).
    PASSWORD_ARGON2_MEMORY_KIB = 19456
    PASSWORD_ARGON2_TIME_COST = 2
    PASSWORD_ARGON2_PARALLELISM = 1

    # Flask-Limiter: memory:// is per process; use redis://... when running several workers.
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # Number of proxies in front of the portal whose X-Forwarded-For may be trusted.
    TRUSTED_PROXY_COUNT = 0

    # Who may change a bound email or phone: "self" (after codes to the old and the new address)
    # or "support" (only an operator, through `flask portal users set-contact`).
    CONTACT_CHANGE_POLICY = "self"

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_CN": "简体中文", "en": "English"}

    BOOTSTRAP_SERVE_LOCAL = True
    # Image origins allowed beyond 'self', data: and https: (Content-Security-Policy img-src).
    CSP_EXTRA_IMG_SOURCES = ()

    # Shown in page titles and messages.
    SITE_NAME = "Portal"

    # Billing: the largest single recharge in integer fen (50 000 yuan), and the base URL the
    # payment channels post notifications to when it is not the host users browse (None: that host).
    RECHARGE_MAX_FEN = 5_000_000
    BILLING_NOTIFY_BASE_URL = None


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the portal refuses to start and says which."""


def finalize(config, check_secret_key: bool = True) -> None:
    """Derive settings that depend on others and refuse unsafe production settings."""
    development = config["ENVIRONMENT"] == "development"
    if not check_secret_key:
        pass
    elif not config.get("SECRET_KEY"):
        if not development:
            raise ConfigError(
                "SECRET_KEY is not set: set PORTAL_SECRET_KEY (or SECRET_KEY in instance/portal.cfg)."
            )
        config["SECRET_KEY"] = DEVELOPMENT_SECRET_KEY
    elif config["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY and not development:
        raise ConfigError("SECRET_KEY is the development default: set a random PORTAL_SECRET_KEY.")

    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = not development
    if config.get("REMEMBER_COOKIE_SECURE") is None:
        config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
    if "SESSION_COOKIE_NAME" not in config or config["SESSION_COOKIE_NAME"] == "session":
        # The __Host- prefix pins the cookie to this host and path, but browsers accept it only on
        # Secure cookies.
        config["SESSION_COOKIE_NAME"] = (
            "__Host-portal" if config["SESSION_COOKIE_SECURE"] else "portal_session"
        )
    if config["CONTACT_CHANGE_POLICY"] not in ("self", "support"):
        raise ConfigError("CONTACT_CHANGE_POLICY must be 'self' or 'support'.")
