import pytest


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": ["smtp", "aliyun_sms"], "BABEL_DEFAULT_LOCALE": "en"}
