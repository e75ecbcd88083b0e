"""Organizations and accounts need no provider plugin; messages are read in English (the source
strings), except where a test asks for Chinese."""
import pytest


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": [], "BABEL_DEFAULT_LOCALE": "en"}
