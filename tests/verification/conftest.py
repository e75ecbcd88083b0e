from __future__ import annotations

import pytest


@pytest.fixture
def ctx(app):
    """A request from one browser (zh-CN, 192.0.2.10), as the views call the services."""
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"},
                                  headers={"Accept-Language": "zh-CN"}) as context:
        yield context


@pytest.fixture
def make_app(app, portal_config):
    """Builds an app of the test's own (other plugins) on the test database; the ``app`` fixture's
    teardown empties the tables it wrote, so no code it sent outlives the test."""
    from portal import create_app

    return lambda **overrides: create_app(dict(portal_config, **overrides))


@pytest.fixture
def generous_limits(portal_config):
    """Room for many codes to one address within the minute, so only the rule under test decides
    (ask for it before ``app``)."""
    portal_config["VERIFICATION_SEND_LIMITS"] = "100/minute"
    return portal_config


def wrong(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"
