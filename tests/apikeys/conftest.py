import pytest


@pytest.fixture
def portal_config(portal_config):
    # Keys need no provider plugin but the mail one, for the notices; English messages.
    return {**portal_config, "BABEL_DEFAULT_LOCALE": "en"}
