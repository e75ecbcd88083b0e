from __future__ import annotations

import pytest


@pytest.fixture
def ctx(app):
    """A request from one browser (zh-CN, 192.0.2.10), as the views call the services."""
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"},
                                  headers={"Accept-Language": "zh-CN"}) as context:
        yield context
