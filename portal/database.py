"""PostgreSQL under faults: every wait on the server is bounded, and a database that stopped answering
costs one timeout per process, not one per request.

- Connecting waits at most DATABASE_CONNECT_TIMEOUT_SECONDS; the server cancels a statement after
  DATABASE_STATEMENT_TIMEOUT_SECONDS; a checked-out connection is pinged first (pool_pre_ping), and a
  free one is awaited at most DATABASE_POOL_TIMEOUT_SECONDS. TCP keepalives find a vanished peer.
- A hung server (stopped, or its host frozen) enforces no statement timeout and its kernel still
  acknowledges keepalives, so the client bounds each wait for an answer itself (statement timeout plus
  a second); the connection is then closed, which invalidates the pool.
- After a failure, connecting is refused at once, and a background probe tries again every
  DATABASE_RETRY_SECONDS: requests meanwhile get a 503 page in milliseconds instead of each waiting
  its own timeout, and the probe's first success closes the breaker.
"""
from __future__ import annotations

import logging
import threading
import time

import psycopg
import sqlalchemy as sa
from psycopg.errors import _WaitTimeout

log = logging.getLogger(__name__)

KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class DatabaseUnavailable(psycopg.OperationalError):
    """Refused without trying: the database failed moments ago."""


class Breaker:
    """Whether connecting is worth trying now (one per engine, shared by the process's threads)."""

    def __init__(self, retry_seconds: float):
        self.retry_seconds = retry_seconds
        self.down_since: float | None = None
        self.retry_at = 0.0
        self._probing = threading.Lock()
        self._last_warning = 0.0

    @property
    def up(self) -> bool:
        return self.down_since is None

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        self.retry_at = now + self.retry_seconds
        if self.down_since is None:
            self.down_since = now
        if now - self._last_warning >= 60:
            self._last_warning = now
            log.warning("database unavailable (%s: %s): refusing at once, trying again every %s s",
                        type(error).__name__, str(error).strip().splitlines()[0] if str(error) else "",
                        self.retry_seconds)

    def succeeded(self) -> None:
        if self.down_since is not None:
            log.warning("database answers again after %d s", time.monotonic() - self.down_since)
            self.down_since = None
            self._last_warning = 0.0

    def connect(self, connect):
        """Run ``connect()``; while the database is down, refuse at once and let a background probe
        (one at a time, every retry_seconds) find out when it answers again, so no request waits."""
        if self.down_since is None:
            try:
                connection = connect()
            except psycopg.OperationalError as exc:
                self.failed(exc)
                raise
            self.succeeded()
            return connection
        if time.monotonic() >= self.retry_at and self._probing.acquire(blocking=False):
            threading.Thread(target=self._probe, args=(connect,), daemon=True, name="database-probe").start()
        raise DatabaseUnavailable("the database failed moments ago; not trying again yet")

    def _probe(self, connect) -> None:
        try:
            connection = connect()
        except psycopg.OperationalError as exc:
            self.failed(exc)
        else:
            connection.close()
            self.succeeded()
        finally:
            self._probing.release()


def _connection_class(answer_timeout: float, breaker: Breaker):
    class DeadlineConnection(psycopg.Connection):
        """A connection that waits at most ``answer_timeout`` for each answer of the server."""

        def wait(self, gen, interval=0.1, timeout=None):
            try:
                return super().wait(gen, interval, timeout if timeout is not None else answer_timeout)
            except _WaitTimeout:
                # Half-way through the protocol: the connection cannot be reused. Closed, it counts
                # as a disconnect, and SQLAlchemy drops the pool's other connections too.
                self.close()
                error = psycopg.OperationalError(f"the database did not answer within {answer_timeout:g} s")
                breaker.failed(error)
                raise error from None

    return DeadlineConnection


def engine_options(config) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS with the timeouts above for a PostgreSQL URI (settings given there
    win)."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", True)
    if not str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        return options
    options.setdefault("pool_timeout", float(config["DATABASE_POOL_TIMEOUT_SECONDS"]))
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", max(1, round(float(config["DATABASE_CONNECT_TIMEOUT_SECONDS"]))))
    statement_ms = int(float(config["DATABASE_STATEMENT_TIMEOUT_SECONDS"]) * 1000)
    if statement_ms:
        connect_args.setdefault("options", f"-c statement_timeout={statement_ms}")
    for key, value in KEEPALIVES.items():
        connect_args.setdefault(key, value)
    options["connect_args"] = connect_args
    return options


def init_app(app) -> None:
    """Before the database extension is initialised: give it the engine options."""
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)


def watch_engines(app) -> None:
    """After the database extension is initialised: bound every wait and add the breaker."""
    from portal.extensions import db

    with app.app_context():
        engines = list(db.engines.values())
    statement = float(app.config["DATABASE_STATEMENT_TIMEOUT_SECONDS"])
    answer_timeout = (statement or float(app.config["DATABASE_CONNECT_TIMEOUT_SECONDS"])) + 1
    for engine in engines:
        if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
            continue
        breaker = Breaker(float(app.config["DATABASE_RETRY_SECONDS"]))
        engine_class = _connection_class(answer_timeout, breaker)
        app.extensions.setdefault("portal.database_breakers", []).append(breaker)

        @sa.event.listens_for(engine, "do_connect")
        def connect(_dialect, _record, cargs, cparams, engine_class=engine_class, breaker=breaker):
            return breaker.connect(lambda: engine_class.connect(*cargs, **cparams))


def unavailable_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean "the database cannot be reached now" (503), not a bug (500)."""
    return (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, DatabaseUnavailable,
            psycopg.OperationalError)
