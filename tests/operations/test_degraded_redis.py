"""Redis stopped or hung: limits are counted per process (one warning, not an error per request),
no request waits on Redis past its socket timeout, and counting is shared again once Redis answers,
with no restart."""
from __future__ import annotations

import logging
import time
import uuid

import pytest
import redis

from portal import ratelimits
from portal.verification.services import RateLimited, send_code

from .backends import wait_for

# A request that waited on a hung Redis without a timeout would take redis-py's 5 s per command; the
# bound only tells a hang from an answer (gunicorn kills a worker after 30 s).
HANG = 30


@pytest.fixture
def redis_app(portal_config, own_redis, tmp_path):
    from portal import create_app
    from portal_devkit.testing.client import PortalClient

    app = create_app(dict(portal_config, RATELIMIT_STORAGE_URI=own_redis.url, RATELIMIT_RECHECK_SECONDS=0.1),
                     instance_path=str(tmp_path / "redis-instance"))
    app.test_client_class = PortalClient
    return app


def _limiter(app) -> ratelimits.FallbackLimiter:
    return app.extensions["portal.ratelimits"]


def _send(app, destination):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"}):
        send_code("verify_email", destination)


def _sign_in(client, login, password="correct horse battery staple"):
    started = time.monotonic()
    response = client.submit("/auth/sign-in", {"login": login, "password": password})
    assert time.monotonic() - started < HANG
    return response


def _shared_again(app):
    """One more limited action (a probe happens on a request), then whether counts are shared again."""
    _send(app, f"probe-{uuid.uuid4().hex}@example.com")
    return _limiter(app).shared_storage_up


def test_redis_commands_wait_at_most_the_configured_timeout(redis_app):
    pool = _limiter(redis_app).storage.storage.connection_pool
    assert pool.connection_kwargs["socket_timeout"] == 0.5
    assert pool.connection_kwargs["socket_connect_timeout"] == 0.5
    assert redis_app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True


def test_redis_stopped_then_back(redis_app, own_redis, users, caplog):
    users.create("rita")
    client = redis_app.test_client()
    _send(redis_app, "shared@example.com")
    assert _limiter(redis_app).shared_storage_up

    assert client.get("/readyz").get_json()["checks"]["redis"] == "ok"
    own_redis.stop()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"] == {"database": "ok", "redis": "unavailable"}
    with caplog.at_level(logging.WARNING, logger="portal.ratelimits"):
        assert _sign_in(client, "rita").status_code == 302
        _send(redis_app, "during@example.com")
        # Counted in this process meanwhile: a second code at once is still refused.
        with pytest.raises(RateLimited):
            _send(redis_app, "during@example.com")
        for _ in range(3):
            _send(redis_app, f"other-{uuid.uuid4().hex}@example.com")
    warnings = [r for r in caplog.records if r.name == "portal.ratelimits"]
    assert len(warnings) == 1 and "counting in this process" in warnings[0].getMessage()
    assert not _limiter(redis_app).shared_storage_up

    own_redis.start()
    wait_for(lambda: _shared_again(redis_app), what="limits to be shared again")
    # The restarted Redis (which kept nothing) holds the counts again.
    assert redis.Redis.from_url(own_redis.url).dbsize() > 0
    assert client.get("/readyz").status_code == 200


def test_redis_hung_then_resumed(redis_app, own_redis, users):
    users.create("hana")
    client = redis_app.test_client()
    _send(redis_app, "before-hang@example.com")

    own_redis.pause()
    try:
        assert _sign_in(client, "hana").status_code == 302
        assert not _limiter(redis_app).shared_storage_up
        wrong = _sign_in(redis_app.test_client(), "hana", "not the password")
        assert wrong.status_code == 400
        _send(redis_app, "during-hang@example.com")
    finally:
        own_redis.resume()
    wait_for(lambda: _shared_again(redis_app), what="limits to be shared again")
    with pytest.raises(RateLimited):
        _send(redis_app, "before-hang@example.com")


def test_two_workers_share_counts_again_after_an_outage(redis_app, portal_config, own_redis, tmp_path):
    from portal import create_app

    other = create_app(dict(portal_config, RATELIMIT_STORAGE_URI=own_redis.url, RATELIMIT_RECHECK_SECONDS=0.1),
                       instance_path=str(tmp_path / "other-instance"))
    own_redis.stop()
    _send(redis_app, "x@example.com")
    _send(other, "x@example.com")  # each process counts alone while Redis is away
    own_redis.start()
    wait_for(lambda: _shared_again(redis_app) and _shared_again(other), what="both to share again")
    destination = f"after-{uuid.uuid4().hex}@example.com"
    _send(redis_app, destination)
    with pytest.raises(RateLimited):
        _send(other, destination)
