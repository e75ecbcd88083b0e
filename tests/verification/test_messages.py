"""What goes out with a code: the message's exact words, what a template-sending provider is given,
the language it is in, and the refusals of destinations and purposes that are not ours."""
from __future__ import annotations

import pytest

from portal.plugins import hookimpl
from portal.verification.services import CodeError, send_code


class TemplateSms:
    """A provider that sends SMS templates: it keeps every argument the hook offers."""

    def __init__(self):
        self.sent = []

    @hookimpl
    def portal_send_verification_code(self, channel, destination, code, purpose, locale, subject, body,
                                      purpose_label, minutes):
        if channel != "sms":
            return None
        self.sent.append(dict(code=code, purpose=purpose, locale=locale, subject=subject, body=body,
                              purpose_label=purpose_label, minutes=minutes))
        return f"template-{len(self.sent)}"


@pytest.fixture
def sms(make_app):
    provider = TemplateSms()
    return make_app(PLUGINS_DISABLED=("aliyun_sms",), PLUGINS_EXTRA=[provider]), provider


def _sent_in_english(sms, purpose: str) -> tuple[dict, dict]:
    """What the provider was given for a code for ``purpose``, then for one of a plugin's purposes
    (which the core has no words for)."""
    app, provider = sms
    with app.test_request_context(headers={"Accept-Language": "en"}):
        send_code(purpose, "+8613800138001")
        send_code("plugin.payout", "+8613800138002")
    return provider.sent[0], provider.sent[1]


def test_the_message_says_whose_code_what_for_how_long_and_not_to_share_it(sms):
    named, unnamed = _sent_in_english(sms, "verify_phone")
    assert named["subject"] == "Portal verification code for binding a phone"
    assert named["body"] == (
        f"Your Portal verification code for binding a phone is {named['code']}. It is valid for 10 minutes. "
        "Never share it with anyone. If you did not ask for it, ignore this message.")
    assert unnamed["subject"] == "Portal verification code"
    assert unnamed["body"] == (
        f"Your Portal verification code is {unnamed['code']}. It is valid for 10 minutes. "
        "Never share it with anyone. If you did not ask for it, ignore this message.")


def test_a_template_provider_gets_the_purpose_in_words_and_the_minutes(sms):
    signing_in, payout = _sent_in_english(sms, "sign_in")
    assert (signing_in["purpose_label"], signing_in["minutes"], signing_in["locale"]) == ("signing in", 5, "en")
    # The plugin's purpose is named generically, never left empty.
    assert (payout["purpose_label"], payout["minutes"]) == ("verification", 10)


def test_the_requests_language_wins_over_the_sites_default(sms):
    app, provider = sms
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        send_code("verify_phone", "+8613800138001")
    assert provider.sent[-1]["locale"] == "zh_CN" and "绑定手机" in provider.sent[-1]["subject"]


@pytest.mark.parametrize("destination, refusal", [
    ("a@b@example.com", "请输入有效的邮箱地址。"),
    ("x" * 243 + "@example.com", "请输入有效的邮箱地址。"),  # 255 characters: one too many
    ("nul\x00@example.com", "请输入有效的邮箱地址。"),
    ("13800138000", "请输入有效的手机号码。"),
    ("", "请输入有效的手机号码。"),
])
def test_a_destination_that_is_not_an_address_or_a_phone_is_refused_in_words(ctx, destination, refusal):
    with pytest.raises(CodeError) as refused:
        send_code("verify_email", destination)
    assert refused.value.message == refusal


def test_an_address_of_254_characters_is_accepted(ctx, mailbox):
    address = "x" * 242 + "@example.com"
    assert len(address) == 254
    send_code("verify_email", address)
    assert mailbox.to(address)


@pytest.mark.parametrize("purpose", ["Verify Email", "verify-email!", "", "x" * 200])
def test_a_purpose_that_is_not_a_purpose_is_a_programming_error(ctx, purpose):
    with pytest.raises(ValueError, match="invalid verification purpose"):
        send_code(purpose, "grace@example.com")
