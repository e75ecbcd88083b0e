import pytest

from portal.plugins import hookimpl

BUNDLED = ["github", "bitbucket", "coding"]


class LinkedHookRecorder:
    """A plugin that records every portal_identity_linked call."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def portal_identity_linked(self, user, identity, first_link):
        self.calls.append((user.id, identity.provider, identity.subject, first_link))


@pytest.fixture
def linked_hook():
    return LinkedHookRecorder()


@pytest.fixture
def portal_config(portal_config, linked_hook):
    return {**portal_config, "PLUGINS_ENABLED": BUNDLED, "PLUGINS_EXTRA": [linked_hook]}


@pytest.fixture
def member(users, provider_browser):
    """A signed-in user with a password, and their browser."""
    client, user_id = users.signed_in_client()
    return provider_browser(client), user_id
