"""Counting attempts against limits by hand, so a page can say what happened instead of a bare 429.

Counts live in the storage Flask-Limiter's settings name (RATELIMIT_STORAGE_URI: memory, or Redis
to share counts between workers) with a moving window. With RATELIMIT_ENABLED = False every attempt
is allowed. Each app keeps its own storage: the Flask-Limiter extension object is one per process.
"""
from __future__ import annotations

import math
import time

from flask import current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


def _item(limit: str | RateLimitItem) -> RateLimitItem:
    return parse(limit) if isinstance(limit, str) else limit


def init_app(app) -> None:
    strategy = None
    if app.config.get("RATELIMIT_ENABLED", True):
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"],
                                      **(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}))
        strategy = MovingWindowRateLimiter(storage)
    app.extensions["portal.ratelimits"] = strategy


def _strategy() -> MovingWindowRateLimiter | None:
    return current_app.extensions["portal.ratelimits"]


def allowed(limit: str | RateLimitItem, *identifiers: str) -> bool:
    """True while ``identifiers`` have attempts left under ``limit`` (nothing is counted)."""
    strategy = _strategy()
    return strategy is None or strategy.test(_item(limit), *identifiers)


def hit(limit: str | RateLimitItem, *identifiers: str) -> bool:
    """Count one attempt; False when it is over the limit."""
    strategy = _strategy()
    return strategy is None or strategy.hit(_item(limit), *identifiers)


def clear(limit: str | RateLimitItem, *identifiers: str) -> None:
    strategy = _strategy()
    if strategy is not None:
        strategy.clear(_item(limit), *identifiers)


def retry_after(limit: str | RateLimitItem, *identifiers: str) -> int:
    """Seconds until ``identifiers`` may try again under ``limit`` (at least 1)."""
    strategy = _strategy()
    if strategy is None:
        return 1
    reset = strategy.get_window_stats(_item(limit), *identifiers).reset_time
    return max(1, math.ceil(reset - time.time()))
