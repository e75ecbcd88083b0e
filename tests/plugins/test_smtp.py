"""The SMTP plugin delivers verification codes as real SMTP mail, here to the sandbox's sink."""
from __future__ import annotations

import pytest

from portal.plugins import DeliveryError
from portal.verification.services import send_code


def test_a_code_sent_to_an_email_arrives_as_mail_with_a_localized_subject(app, mailbox):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        send_code("sign_up", "Alice@Example.com")
    message = mailbox.to("alice@example.com")[-1]
    assert message["channel"] == "email"
    assert message["subject"] == "Portal 注册验证码"
    assert message["body"].startswith("您的 Portal 注册验证码为 ")
    assert mailbox.last_code("alice@example.com") in message["body"]
    assert "10 分钟" in message["body"]
    assert message["from_header"] == "Portal <no-reply@portal.example>"
    assert message["language"] == "zh-CN"


def test_english_speakers_get_english_mail(app, mailbox):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        send_code("sign_up", "bob@example.com")
    message = mailbox.to("bob@example.com")[-1]
    assert message["subject"] == "Portal verification code for signing up"
    assert message["body"].startswith("Your Portal verification code for signing up is ")


@pytest.mark.parametrize("setting, value", [
    ("password", "wrong-password"),
    ("port", 1),
    ("ca_file", None),  # the relay's certificate is not trusted
    ("starttls", False),  # the relay will not take a password in the clear
])
def test_a_relay_that_refuses_or_is_unreachable_raises_delivery_error(portal_config, sandbox, setting, value):
    from portal import create_app

    portal_config["PLUGINS"]["smtp"] = dict(portal_config["PLUGINS"]["smtp"], **{setting: value})
    app = create_app(portal_config)
    # An address of its own: the sandbox's mailbox is shared by every test of the session.
    address = f"refused-{setting}@example.com"
    with app.app_context(), pytest.raises(DeliveryError) as raised:
        send_code("sign_up", address)
    assert "smtp" in str(raised.value).lower() or "SMTP" in str(raised.value)
    assert not [m for m in sandbox.state["mail"]["messages"] if m["to"] == address]


def test_the_smtp_plugin_requires_its_relay_settings(portal_config):
    from portal import create_app
    from portal.plugins import PluginError

    portal_config["PLUGINS"]["smtp"] = {"host": "127.0.0.1"}
    with pytest.raises(PluginError, match="'smtp' is missing required settings: port, from_address"):
        create_app(portal_config)
