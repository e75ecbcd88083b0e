"""Configuration: defaults, then ``instance/portal.cfg``, then ``PORTAL_*`` environment variables.

``PORTAL_SECRET_KEY=...`` sets ``SECRET_KEY``; values are parsed as JSON when they can be, and
nested keys use a double underscore (``PORTAL_PLUGINS__github__client_id=...``).
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

DEVELOPMENT_SECRET_KEY = "development-only-secret-key"


class DefaultConfig:
    # "development" relaxes cookie security, allows the built-in secret key and takes the portal's
    # address from the request; anything else is treated as production.
    ENVIRONMENT = "production"
    # At least 32 random bytes outside development (python3 -c 'import secrets; print(secrets.token_hex(32))').
    SECRET_KEY = None

    # The address people and providers reach the portal at ("https://portal.example.com"). Every URL
    # sent outside (payment notify_url, OAuth redirect_uri) is built from it, never from the request's
    # Host header, which anyone can set. Required outside development.
    PUBLIC_URL = None
    # Host names requests may carry besides PUBLIC_URL's (and BILLING_NOTIFY_BASE_URL's); any other
    # Host is refused with 400 outside development. A leading dot allows the subdomains.
    ALLOWED_HOSTS = ()

    SQLALCHEMY_DATABASE_URI = "sqlite:///portal.sqlite3"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # PostgreSQL under faults (portal/database.py): how long to wait to connect, for a statement, for a
    # free pooled connection, and how long to refuse at once after the database failed.
    DATABASE_CONNECT_TIMEOUT_SECONDS = 3
    DATABASE_STATEMENT_TIMEOUT_SECONDS = 5
    DATABASE_POOL_TIMEOUT_SECONDS = 3
    DATABASE_RETRY_SECONDS = 2

    # Logging (portal/logs.py): the level of the portal's loggers, and "text" or "json" lines.
    LOG_LEVEL = "INFO"
    LOG_FORMAT = "text"

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
    # While the shared storage (Redis) fails, limits are counted per process (portal/ratelimits.py)
    # and the storage is tried again this often; each Redis command waits at most REDIS_TIMEOUT_SECONDS.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_RECHECK_SECONDS = 5
    REDIS_TIMEOUT_SECONDS = 0.5
    # Number of reverse proxies in front of the portal: their X-Forwarded-For, -Proto and -Host are
    # trusted (werkzeug's ProxyFix), exactly that many hops deep. 0: the headers are ignored.
    TRUSTED_PROXY_COUNT = 0

    # Who may change a bound email or phone: "self" (after codes to the old and the new address)
    # or "support" (only an operator, through `flask portal users set-contact`).
    CONTACT_CHANGE_POLICY = "self"
    # Sign-up by phone: a phone number that belongs to no account can, after the SMS code of 验证码登录,
    # create an account with that verified phone (an email can be added later). False: only sign-up
    # by email; codes then go only to phones bound to an account.
    SIGNUP_BY_PHONE = True

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_CN": "简体中文", "en": "English"}

    BOOTSTRAP_SERVE_LOCAL = True
    # Image origins allowed beyond 'self', data: and https: (Content-Security-Policy img-src).
    CSP_EXTRA_IMG_SOURCES = ()

    # Security log: events older than this are removed by `portal log prune` (users see 90 days).
    SECURITY_LOG_RETENTION_DAYS = 180
    # Two-factor sign-in required of every organization's owners and admins (one organization can
    # require it with `portal orgs require-2fa`).
    MFA_REQUIRED_FOR_ORG_MANAGERS = False
    # Passkeys: sign in with a passkey alone (no username, no password). The relying party id is the
    # site's domain and the origin its URL; None: the host of the request (fine for one host name).
    PASSKEY_SIGN_IN_ENABLED = False
    WEBAUTHN_RP_ID = None
    WEBAUTHN_ORIGIN = None

    # Shown in page titles and messages.
    SITE_NAME = "Portal"

    # Personal data at rest (portal/crypto.py): "<key id>:<32 bytes, base64>" keys, the first one
    # encrypts and all decrypt; and the key of the lookup hashes (uniqueness without clear text).
    # Outside development, features that store personal data refuse to run until both are set.
    PERSONAL_DATA_KEYS = ()
    PERSONAL_DATA_LOOKUP_KEY = None

    # 实名认证: the real-name backend plugin that verifies identities (None: the feature is off, nothing
    # requires it), the actions that need a verified identity, how many accounts one ID number may
    # verify, and how many attempts (each may cost money at the provider) per user and per ID number
    # in 24 hours.
    REALNAME_BACKEND = None
    REALNAME_REQUIRED_FOR = ("paid_plan",)
    REALNAME_MAX_ACCOUNTS_PER_ID = 1
    REALNAME_ATTEMPTS_PER_DAY = 3
    REALNAME_ATTEMPTS_PER_ID_PER_DAY = 5
    # However often pages poll, the backend is asked about one attempt at most this often.
    REALNAME_QUERY_INTERVAL_SECONDS = 3

    # The portal's public base URL (https://id.example.com): URLs handed to providers (where they
    # send the person back) are built from it. None: the host of the request.
    PUBLIC_URL = None

    # Billing: the largest single recharge in integer fen (50 000 yuan), and the base URL the
    # payment channels post notifications to when it is not PUBLIC_URL (an address reserved for
    # them; None: PUBLIC_URL).
    RECHARGE_MAX_FEN = 5_000_000
    BILLING_NOTIFY_BASE_URL = None
    # Recharges started per user and per account (each costs a call to the channel), and the unpaid
    # orders an account may hold at once.
    RECHARGE_START_LIMITS = "10/minute;60/hour"
    RECHARGE_MAX_PENDING_ORDERS = 10

    # 提现 (integer fen): the smallest withdrawal (Alipay's floor for transfers is 0.10 yuan), the
    # largest, the most per account and day (the site's time zone), and up to what amount a request
    # is approved without an operator (0: every one waits for an operator).
    WITHDRAWAL_MIN_FEN = 10
    WITHDRAWAL_MAX_FEN = 5_000_000
    WITHDRAWAL_DAILY_MAX_FEN = 5_000_000
    WITHDRAWAL_AUTO_APPROVE_MAX_FEN = 0


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the portal refuses to start and says which."""


def finalize(config, serving: bool = True) -> None:
    """Derive settings that depend on others and refuse unsafe production settings.

    ``serving=False`` (listing plugins) skips what only serving needs: the secret key and PUBLIC_URL."""
    development = config["ENVIRONMENT"] == "development"
    if serving:
        _check_secret_key(config, development)
    _check_public_urls(config, development or not serving)

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
    try:
        config["TRUSTED_PROXY_COUNT"] = int(config.get("TRUSTED_PROXY_COUNT") or 0)
    except (TypeError, ValueError):
        raise ConfigError("TRUSTED_PROXY_COUNT must be a whole number (the reverse proxies in front).") from None
    if config["TRUSTED_PROXY_COUNT"] < 0:
        raise ConfigError("TRUSTED_PROXY_COUNT must be a whole number (the reverse proxies in front).")


def _check_secret_key(config, development: bool) -> None:
    from portal.keystrength import secret_key_problem

    if not config.get("SECRET_KEY"):
        if not development:
            raise ConfigError(
                "SECRET_KEY is not set: set PORTAL_SECRET_KEY (or SECRET_KEY in instance/portal.cfg)."
            )
        config["SECRET_KEY"] = DEVELOPMENT_SECRET_KEY
    elif config["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY and not development:
        raise ConfigError("SECRET_KEY is the development default: set a random PORTAL_SECRET_KEY.")
    elif not development:
        problem = secret_key_problem(config["SECRET_KEY"])
        if problem:
            raise ConfigError(
                f"SECRET_KEY {problem}: it must be at least 32 random bytes, e.g. "
                "PORTAL_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')."
            )


def _url_problem(value) -> str | None:
    if not isinstance(value, str):
        return "must be a URL such as https://portal.example.com"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL such as https://portal.example.com"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "must hold no query, fragment or credentials"
    return None


def _check_public_urls(config, development: bool) -> None:
    """PUBLIC_URL is where every external URL starts; outside development it is required, and only
    the hosts it names (plus ALLOWED_HOSTS) may appear in a request's Host header."""
    public_url = config.get("PUBLIC_URL")
    if not public_url:
        if not development:
            raise ConfigError(
                "PUBLIC_URL is not set: set PORTAL_PUBLIC_URL to the address people reach the portal at "
                "(e.g. https://portal.example.com)."
            )
        config["PUBLIC_URL"] = None
    for name in ("PUBLIC_URL", "BILLING_NOTIFY_BASE_URL"):
        if config.get(name):
            problem = _url_problem(config[name])
            if problem:
                raise ConfigError(f"{name} {problem} (it is {config[name]!r}).")
            config[name] = config[name].rstrip("/")
    allowed = config.get("ALLOWED_HOSTS") or ()
    if isinstance(allowed, str) or not all(isinstance(host, str) and host for host in allowed):
        raise ConfigError('ALLOWED_HOSTS must be a list of host names, e.g. ["portal.internal"].')
    if development or config.get("TRUSTED_HOSTS") is not None:
        return
    hosts = [urlsplit(config[name]).hostname for name in ("PUBLIC_URL", "BILLING_NOTIFY_BASE_URL")
             if config.get(name)]
    # Flask (>= 3.1) answers 400 to a request whose Host is none of these.
    config["TRUSTED_HOSTS"] = list(dict.fromkeys([*hosts, *allowed]))
