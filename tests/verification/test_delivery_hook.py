"""Codes go out through the portal_send_verification_code hook, so a third party can add a
channel or replace a provider."""
from __future__ import annotations

import pytest

from portal.plugins import DeliveryError, hookimpl
from portal.verification.services import check_code, send_code


class WorkChat:
    """A third party's SMS provider: takes only the arguments it needs."""

    def __init__(self):
        self.sent = []

    @hookimpl
    def portal_send_verification_code(self, channel, destination, code, purpose, locale):
        if channel != "sms":
            return None
        self.sent.append((destination, code, purpose, locale))
        return f"workchat-{len(self.sent)}"


class Failing:
    @hookimpl
    def portal_send_verification_code(self, channel):
        raise DeliveryError(f"provider down for {channel}")


def test_a_third_party_plugin_can_deliver_the_sms_codes(make_app, mailbox):
    workchat = WorkChat()
    app = make_app(PLUGINS_DISABLED=("aliyun_sms",), PLUGINS_EXTRA=[workchat])
    with app.test_request_context(headers={"Accept-Language": "en"}):
        send_code("bind_phone", "+8613800138000")
        destination, code, purpose, locale = workchat.sent[-1]
        assert (destination, purpose, locale) == ("+8613800138000", "bind_phone", "en")
        check_code("bind_phone", "+8613800138000", code)
        # Email still goes through the SMTP plugin:
        send_code("verify_email", "olga@example.com")
    assert mailbox.to("olga@example.com")
    assert len(workchat.sent) == 1


def test_a_delivery_failure_reaches_the_caller(make_app):
    app = make_app(PLUGINS_EXTRA=[Failing()])
    with app.test_request_context(), pytest.raises(DeliveryError, match="provider down for email"):
        send_code("verify_email", "olga@example.com")
