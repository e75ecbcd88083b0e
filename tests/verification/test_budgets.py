"""Code delivery: strangers asking for codes to an address never use up its owner's codes, and a code
another user asks for never replaces the one pending for the owner."""
from __future__ import annotations

import pytest

from portal_devkit.testing.plugin import DEFAULT_PASSWORD


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": ["smtp", "aliyun_sms"], "BABEL_DEFAULT_LOCALE": "en"}


def test_anonymous_requests_do_not_use_up_the_owners_codes(app, users, mailbox):
    users.create("alice", email="alice@example.com")
    stranger = app.test_client()
    for _ in range(3):
        stranger.submit("/auth/forgot-password", {"contact": "alice@example.com"})
    sent_before = len(mailbox.to("alice@example.com"))

    owner = app.test_client()
    users.sign_in(owner, "alice")
    response = owner.submit("/user/password", {"old_password": DEFAULT_PASSWORD, "new_password": "a new passphrase 42",
                                              "channel": "email", "action": "send"})
    assert response.status_code == 200
    assert len(mailbox.to("alice@example.com")) == sent_before + 1


def test_another_users_request_never_replaces_a_pending_code(generous_limits, app, users, mailbox):
    alice, _ = users.signed_in_client("alice")
    bob, _ = users.signed_in_client("bob")
    assert alice.submit("/user/phone", {"phone": "13800136001", "action": "send"}).status_code == 200
    alice_code = mailbox.last_code("+8613800136001")
    assert bob.submit("/user/phone", {"phone": "13800136001", "action": "send"}).status_code == 200
    bound = alice.submit("/user/phone", {"phone": "13800136001", "code": alice_code, "action": "confirm"})
    assert bound.status_code == 302
