"""The Aliyun SMS plugin signs SendSms exactly as Aliyun checks it; the sandbox verifies it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from portal.plugins import DeliveryError
from portal.verification.services import send_code
from portal_aliyun_sms import aliyun_phone_number, call, sign, signed_params


def test_a_code_sent_to_a_mainland_phone_arrives_as_the_chinese_template(app, mailbox):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        send_code("verify_phone", "+8613800138000")
    message = mailbox.to("+8613800138000")[-1]
    code = mailbox.last_code("+8613800138000")
    assert message["channel"] == "sms"
    assert message["body"] == f"【Portal】您的绑定手机验证码为：{code}，10分钟内有效，请勿泄露于他人。"
    assert message["template_code"] == "SMS_480000001"


def test_english_speakers_get_the_english_template(app, mailbox):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        send_code("reset_password", "+8613800138000")
    message = mailbox.to("+8613800138000")[-1]
    assert message["template_code"] == "SMS_480000002"
    assert message["body"].startswith("【Portal】Your verification code for resetting the password is ")
    assert "valid for 10 minutes" in message["body"]


def test_a_template_approved_with_the_code_alone_is_given_the_code_alone(app, sandbox):
    from portal_aliyun_sms import template_variables

    assert template_variables({}) == ["code"]
    assert template_variables({"template_variables": "minutes, code,purpose"}) == ["code", "purpose", "minutes"]


@pytest.mark.parametrize("phone", ["+85291234567", "+14155550100", "+13125550123"])
def test_international_numbers_go_with_the_international_template(app, mailbox, phone):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        send_code("bind_phone", phone)
    message = mailbox.to(phone)[-1]
    assert message["template_code"] == "SMS_480000003"
    assert mailbox.last_code(phone) in message["body"]


def test_phone_numbers_are_given_to_aliyun_in_its_format():
    assert aliyun_phone_number("+8613800138000") == "13800138000"
    assert aliyun_phone_number("+85291234567") == "85291234567"
    assert aliyun_phone_number("+14155550100") == "14155550100"


def test_the_signature_matches_aliyuns_documented_example():
    # Aliyun's RPC signature example (DescribeRegions), with "testsecret" as the secret.
    params = {
        "Format": "XML", "AccessKeyId": "testid", "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0", "Version": "2014-05-26", "Timestamp": "2016-02-23T12:46:24Z",
    }
    assert sign(params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def _settings(sandbox, **changes):
    return dict(sandbox.plugin_settings()["aliyun_sms"], **changes)


SEND = {"Action": "SendSms", "PhoneNumbers": "13800138000", "SignName": "Portal",
        "TemplateCode": "SMS_480000001",
        "TemplateParam": '{"code":"123456","purpose":"sign_up","minutes":"10"}'}


@pytest.mark.parametrize("settings_change, params_change, error", [
    ({"access_key_secret": "not-the-secret"}, {}, "SignatureDoesNotMatch"),
    ({"access_key_id": "LTAI5tUnknown"}, {}, "InvalidAccessKeyId.NotFound"),
    ({}, {"PhoneNumbers": "12345"}, "isv.MOBILE_NUMBER_ILLEGAL"),
    ({}, {"PhoneNumbers": "+8613800138000"}, "isv.MOBILE_NUMBER_ILLEGAL"),
    ({}, {"PhoneNumbers": "85291234567"}, "isv.MOBILE_NUMBER_ILLEGAL"),  # a mainland template
    ({}, {"SignName": "Someone else"}, "isv.SMS_SIGNATURE_ILLEGAL"),
    ({}, {"TemplateCode": "SMS_0"}, "isv.SMS_TEMPLATE_ILLEGAL"),
    ({}, {"TemplateParam": "{}"}, "isv.TEMPLATE_MISSING_PARAMETERS"),
])
def test_aliyun_refusals_become_delivery_errors_naming_the_code(
    sandbox, settings_change, params_change, error
):
    with pytest.raises(DeliveryError, match=error.replace(".", r"\.")) as raised:
        call(_settings(sandbox, **settings_change), dict(SEND, **params_change))
    assert "123456" not in str(raised.value)


def test_a_stale_timestamp_and_a_replayed_nonce_are_refused(sandbox):
    settings = _settings(sandbox)
    stale = signed_params(settings, SEND, now=datetime.now(timezone.utc) - timedelta(minutes=20))
    answer = requests.post(settings["endpoint"], data=stale, timeout=10)
    assert (answer.status_code, answer.json()["Code"]) == (400, "InvalidTimeStamp.Expired")

    fresh = signed_params(settings, SEND)
    assert requests.post(settings["endpoint"], data=fresh, timeout=10).json()["Code"] == "OK"
    replayed = requests.post(settings["endpoint"], data=fresh, timeout=10)
    assert (replayed.status_code, replayed.json()["Code"]) == (400, "SignatureNonceUsed")


def test_the_signature_covers_the_http_method(sandbox):
    settings = _settings(sandbox)
    signed_for_post = signed_params(settings, dict(SEND, PhoneNumbers="13500135000"))
    answer = requests.get(settings["endpoint"], params=signed_for_post, timeout=10)
    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")
    signed_for_get = signed_params(settings, dict(SEND, PhoneNumbers="13500135000"), method="GET")
    assert requests.get(settings["endpoint"], params=signed_for_get, timeout=10).json()["Code"] == "OK"


def test_aliyun_flow_control_refuses_a_second_sms_within_a_minute(sandbox):
    sandbox.state["sms"]["flow_control"] = True
    try:
        params = dict(SEND, PhoneNumbers="13900139000")
        assert call(_settings(sandbox), params)["Code"] == "OK"
        with pytest.raises(DeliveryError, match=r"isv\.BUSINESS_LIMIT_CONTROL"):
            call(_settings(sandbox), params)
    finally:
        sandbox.state["sms"]["flow_control"] = False


def test_a_failed_sms_reaches_the_caller_and_nothing_is_recorded(app, sandbox, mailbox):
    sandbox.state["sms"]["fail_next"] = "isv.BUSINESS_LIMIT_CONTROL"
    with app.app_context(), pytest.raises(DeliveryError, match="BUSINESS_LIMIT_CONTROL"):
        send_code("bind_phone", "+8613700137000")
    assert mailbox.to("+8613700137000") == []


def test_an_unreachable_endpoint_is_a_delivery_error(sandbox):
    with pytest.raises(DeliveryError, match="unreachable"):
        call(_settings(sandbox, endpoint="http://127.0.0.1:1/"), SEND)


def test_the_plugin_requires_its_credentials(portal_config):
    from portal import create_app
    from portal.plugins import PluginError

    portal_config["PLUGINS"]["aliyun_sms"] = {"endpoint": "https://dysmsapi.aliyuncs.com/"}
    with pytest.raises(PluginError, match="'aliyun_sms' is missing required settings: access_key_id"):
        create_app(portal_config)
