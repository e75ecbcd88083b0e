"""Pytest fixtures for Portal and its plugins.

- ``sandbox``: the provider sandbox, running on a free port for the whole session.
- ``app``: a Portal app on a fresh database (SQLite, or ``PORTAL_TEST_DATABASE_URL``), with every
  installed plugin enabled and pointed at the sandbox. Override ``portal_config`` to change settings.
- ``client``: a ``PortalClient`` (``client.submit(url, data)`` posts with the page's CSRF token).
- ``users``: creates users (``users.create("alice")``) and signs clients in (``users.sign_in(client, u)``).
- ``mailbox``: the messages the sandbox received (email and SMS), to read verification codes.
- ``provider_browser``: a person clicking through a provider's consent page (see
  ``portal_devkit.testing.contract``, which also holds the contract tests for provider plugins).
"""
from __future__ import annotations

import os
import re
import secrets

import pytest
import sqlalchemy as sa

DEFAULT_PASSWORD = "correct horse battery staple"


# The session's sandbox, once started, and how many messages it held when the current test began:
# a test's mailbox shows only what arrived during that test, whatever earlier tests sent.
_running_sandbox: list = []
_messages_before_test = [0]


@pytest.fixture(scope="session")
def sandbox():
    from portal_devkit.sandbox import Sandbox

    running = Sandbox().start()
    _running_sandbox.append(running)
    yield running
    _running_sandbox.remove(running)
    running.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _messages_before_test[0] = (
        len(_running_sandbox[0].state.get("mail", {}).get("messages", [])) if _running_sandbox else 0
    )


def _worker_database(url: str, worker: str) -> str:
    """One PostgreSQL database per xdist worker, created on first use."""
    if worker == "master" or not url.startswith("postgresql"):
        return url
    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "master")
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if url:
        return _worker_database(url.replace("postgresql://", "postgresql+psycopg://", 1), worker_id)
    return f"sqlite:///{tmp_path_factory.mktemp('db')}/portal.sqlite3"


@pytest.fixture(scope="session")
def _schema(database_url):
    """Create the schema once per session; each test then empties the tables it used."""
    from portal.extensions import db

    import portal.models  # noqa: F401 - every model, so the metadata is complete

    engine = sa.create_engine(database_url)
    db.metadata.drop_all(engine)
    db.metadata.create_all(engine)
    engine.dispose()
    return database_url


def _random_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


# One set per test session, as a site keeps its keys across restarts.
_PERSONAL_DATA_KEYS = {
    "current": f"k2:{_random_key()}",
    "previous": f"k1:{_random_key()}",
    "lookup": _random_key(),
}


@pytest.fixture
def portal_config(_schema, sandbox, tmp_path):
    """Settings for the ``app`` fixture; override or extend it in a conftest."""
    return {
        "ENVIRONMENT": "testing",
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": _schema,
        "SESSION_COOKIE_SECURE": False,
        "SERVER_NAME": None,
        # The test client's host: external URLs (notify_url, redirect_uri) start here, and any
        # other Host header is refused, as in production.
        "PUBLIC_URL": "http://localhost",
        "PLUGINS": sandbox.plugin_settings(),
        # The sandbox's providers serve avatars over plain http.
        "CSP_EXTRA_IMG_SOURCES": [sandbox.url],
        "PLUGINS_ENABLED": None,
        "PLUGINS_DISABLED": (),
        # Personal data at rest: two keys, so that tests see a ring rather than a single key.
        "PERSONAL_DATA_KEYS": [_PERSONAL_DATA_KEYS["current"], _PERSONAL_DATA_KEYS["previous"]],
        "PERSONAL_DATA_LOOKUP_KEY": _PERSONAL_DATA_KEYS["lookup"],
    }


@pytest.fixture
def app(portal_config, tmp_path):
    from portal import create_app
    from portal.extensions import db
    from portal_devkit.testing.client import PortalClient

    app = create_app(portal_config, instance_path=str(tmp_path / "instance"))
    app.test_client_class = PortalClient
    yield app
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Users:
    """Makes users through the real sign-up service and signs clients in through the real form."""

    def __init__(self, app):
        self.app = app
        self.count = 0

    def create(self, username: str | None = None, password: str = DEFAULT_PASSWORD, email: str | None = None,
               verified: bool = True):
        from portal.users import services

        self.count += 1
        username = username or f"user{self.count}"
        email = email or f"{username}@example.com"
        with self.app.app_context():
            user = services.register_user(username, email, password)
            if verified:
                services.mark_email_verified(user.primary_email)
            return user.id

    def sign_in(self, client, login: str, password: str = DEFAULT_PASSWORD):
        response = client.submit("/auth/sign-in", {"login": login, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def signed_in_client(self, username: str | None = None):
        user_id = self.create(username)
        client = self.app.test_client()
        with self.app.app_context():
            from portal.extensions import db
            from portal.users.models import User

            self.sign_in(client, db.session.get(User, user_id).username)
        return client, user_id


@pytest.fixture
def users(app):
    return Users(app)


class Mailbox:
    """What the sandbox's SMTP sink and SMS API received since the test began."""

    CODE = re.compile(r"\b(\d{6})\b")

    def __init__(self, sandbox):
        self.sandbox = sandbox

    @property
    def messages(self) -> list[dict]:
        return list(self.sandbox.state.get("mail", {}).get("messages", []))[_messages_before_test[0]:]

    def to(self, destination: str) -> list[dict]:
        return [m for m in self.messages if m["to"] == destination]

    def last_code(self, destination: str) -> str:
        """The code in the newest message to ``destination`` that has one (security notices that
        follow a change carry none)."""
        received = self.to(destination)
        assert received, f"nothing was sent to {destination}"
        for message in reversed(received):
            match = self.CODE.search(message["body"])
            if match:
                return match.group(1)
        raise AssertionError(f"no code among the messages to {destination}: {received[-1]}")

    def notices(self, destination: str) -> list[dict]:
        """The security notices (``portal.notices``) sent to ``destination``, oldest first."""
        return [m for m in self.to(destination) if not self.CODE.search(m["body"])]


@pytest.fixture
def mailbox(sandbox):
    return Mailbox(sandbox)


@pytest.fixture
def provider_browser(app):
    """Makes a ``portal_devkit.testing.contract.ProviderBrowser``: a person who starts a sign-in or link in
    the portal and clicks on the sandbox's consent page (``provider_browser(client).link("github")``)."""
    from portal_devkit.testing.contract import ProviderBrowser

    def make(client=None):
        return ProviderBrowser(client or app.test_client())

    return make
