"""Counting attempts against limits by hand, so a page can say what happened instead of a bare 429.

Counts live in the storage Flask-Limiter's settings name (RATELIMIT_STORAGE_URI: memory, or Redis
to share counts between workers) with a moving window. With RATELIMIT_ENABLED = False every attempt
is allowed. Each app keeps its own storage: the Flask-Limiter extension object is one per process.

When the shared storage fails (Redis stopped, or hung and past its socket timeout), counting goes on
in this process's memory, so sign-in and code sending keep working with per-process limits; one
warning a minute says so, and the shared storage is tried again every RATELIMIT_RECHECK_SECONDS
(by one request at a time) until it answers, with no restart.
"""
from __future__ import annotations

import logging
import math
import threading
import time

from flask import current_app
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

# How often, at most, a process repeats that it is counting on its own.
WARNING_INTERVAL_SECONDS = 60


def _item(limit: str | RateLimitItem) -> RateLimitItem:
    return parse(limit) if isinstance(limit, str) else limit


def storage_options(config) -> dict:
    """RATELIMIT_STORAGE_OPTIONS, with Redis socket and connect timeouts (REDIS_TIMEOUT_SECONDS) unless
    set there: redis-py would otherwise wait 5 s per command on a hung server."""
    options = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    if str(config.get("RATELIMIT_STORAGE_URI", "")).startswith(("redis", "rediss")):
        timeout = float(config.get("REDIS_TIMEOUT_SECONDS") or 0.5)
        options.setdefault("socket_timeout", timeout)
        options.setdefault("socket_connect_timeout", timeout)
        options.setdefault("socket_keepalive", True)
    return options


class FallbackLimiter:
    """The moving-window strategy over the shared storage, falling back on this process's memory
    while the shared storage fails."""

    def __init__(self, storage: Storage, recheck_seconds: float):
        self.storage = storage
        self.shared = MovingWindowRateLimiter(storage)
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.recheck_seconds = recheck_seconds
        self.down_since: float | None = None
        self._next_check = 0.0
        self._last_warning = 0.0
        self._probing = threading.Lock()

    @property
    def shared_storage_up(self) -> bool:
        return self.down_since is None

    def call(self, method: str, *args):
        if self.down_since is not None and not self._shared_storage_back():
            self._warn_still_down()
            return getattr(self.local, method)(*args)
        try:
            return getattr(self.shared, method)(*args)
        except StorageError as exc:
            self._went_down(exc.storage_error)
            return getattr(self.local, method)(*args)

    def _went_down(self, error: Exception) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            self._next_check = now + self.recheck_seconds
            self._last_warning = now
            log.warning("rate-limit storage unreachable (%s: %s): counting in this process until it answers",
                        type(error).__name__, error)

    def _warn_still_down(self) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            log.warning("rate-limit storage still unreachable after %d s: counting in this process",
                        now - (self.down_since or now))

    def _shared_storage_back(self) -> bool:
        """Whether the shared storage answers again; one request at a time asks, the others go on
        counting locally meanwhile."""
        if time.monotonic() < self._next_check or not self._probing.acquire(blocking=False):
            return False
        try:
            if self.down_since is None:
                return True
            if self.storage.check():
                log.warning("rate-limit storage answers again after %d s: counting shared",
                            time.monotonic() - self.down_since)
                self.down_since = None
                return True
            self._next_check = time.monotonic() + self.recheck_seconds
            return False
        finally:
            self._probing.release()


def init_app(app) -> None:
    """Give Flask-Limiter's own extension (initialised after this) the same timeouts and fallback."""
    app.config["RATELIMIT_STORAGE_OPTIONS"] = storage_options(app.config)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    strategy = None
    if app.config.get("RATELIMIT_ENABLED", True):
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"], wrap_exceptions=True,
                                      **app.config["RATELIMIT_STORAGE_OPTIONS"])
        strategy = FallbackLimiter(storage, float(app.config.get("RATELIMIT_RECHECK_SECONDS") or 5))
    app.extensions["portal.ratelimits"] = strategy


def _strategy() -> FallbackLimiter | None:
    return current_app.extensions["portal.ratelimits"]


def shared_storage_answers(app) -> bool | None:
    """For readiness checks: whether the shared storage answers a ping now (None: limits are off or
    kept in memory, so there is nothing to reach)."""
    strategy = app.extensions.get("portal.ratelimits")
    if strategy is None or isinstance(strategy.storage, MemoryStorage):
        return None
    return bool(strategy.storage.check())


def allowed(limit: str | RateLimitItem, *identifiers: str) -> bool:
    """True while ``identifiers`` have attempts left under ``limit`` (nothing is counted)."""
    strategy = _strategy()
    return strategy is None or strategy.call("test", _item(limit), *identifiers)


def hit(limit: str | RateLimitItem, *identifiers: str) -> bool:
    """Count one attempt; False when it is over the limit."""
    strategy = _strategy()
    return strategy is None or strategy.call("hit", _item(limit), *identifiers)


def clear(limit: str | RateLimitItem, *identifiers: str) -> None:
    strategy = _strategy()
    if strategy is not None:
        strategy.call("clear", _item(limit), *identifiers)


def retry_after(limit: str | RateLimitItem, *identifiers: str) -> int:
    """Seconds until ``identifiers`` may try again under ``limit`` (at least 1)."""
    strategy = _strategy()
    if strategy is None:
        return 1
    reset = strategy.call("get_window_stats", _item(limit), *identifiers).reset_time
    return max(1, math.ceil(reset - time.time()))
