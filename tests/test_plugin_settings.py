"""Configuration fails closed: plugin settings are typed, a wrong type or an unknown key stops
startup naming plugin and key, two plugins cannot offer the same payment channel or code channel,
and an installed plugin given no settings stays off instead of stopping a fresh site."""
from __future__ import annotations

import logging

import pytest

from portal import create_app
from portal.plugin_settings import Setting, SettingTypeError, parse_value
from portal.plugins import PluginError, hookimpl, plugin_config, plugin_manager


@pytest.mark.parametrize("text", ["False", "false", "0", "no", "off", " NO "])
def test_false_words_read_as_false(text):
    assert parse_value("bool", text) is False


@pytest.mark.parametrize("text", ["True", "1", "yes", "on"])
def test_true_words_read_as_true(text):
    assert parse_value("bool", text) is True


@pytest.mark.parametrize("kind, value", [
    ("bool", "maybe"), ("bool", 2), ("int", "25a"), ("int", True), ("int", "1_000"), ("str", ["a"]),
    ("url", "portal.example"), ("url", "javascript:alert(1)"), ("secret", {"a": 1}), ("float", "0.5s"),
    ("float", float("nan")), ("float", "1e9"),
])
def test_a_value_of_the_wrong_type_is_refused(kind, value):
    with pytest.raises(SettingTypeError):
        parse_value(kind, value)


def test_numbers_given_as_text_and_ids_given_as_numbers_are_read_as_declared():
    assert parse_value("int", "587") == 587
    assert parse_value("float", "0.5") == 0.5 and parse_value("float", 15) == 15.0
    assert parse_value("str", 2088102146225135) == "2088102146225135"


def test_an_unknown_setting_type_cannot_be_declared():
    with pytest.raises(ValueError):
        Setting("list")


def test_a_false_flag_given_as_text_turns_sign_up_off(portal_config, monkeypatch):
    monkeypatch.setenv("GITHUB_SIGN_UP", "False")
    portal_config["PLUGINS"]["github"]["allow_sign_up"] = {"$env": "GITHUB_SIGN_UP"}
    portal_config["PLUGINS"]["bitbucket"]["allow_sign_up"] = "0"
    app = create_app(portal_config)
    with app.app_context():
        from portal.identities.oauth import providers

        assert providers()["github"].allows_sign_up() is False
        assert providers()["bitbucket"].allows_sign_up() is False
        assert providers()["coding"].allows_sign_up() is True
        assert plugin_config("smtp")["port"] == portal_config["PLUGINS"]["smtp"]["port"]


def test_a_wrong_type_stops_startup_naming_plugin_and_key(portal_config):
    portal_config["PLUGINS"]["smtp"]["port"] = "twenty-five"
    with pytest.raises(PluginError, match=r"plugin 'smtp' setting 'port' must be a whole number"):
        create_app(portal_config)


def test_a_wrong_flag_stops_startup_naming_plugin_and_key(portal_config):
    portal_config["PLUGINS"]["qq"]["unionid"] = "sometimes"
    with pytest.raises(PluginError, match=r"plugin 'qq' setting 'unionid' must be true or false"):
        create_app(portal_config)


def test_a_secret_of_the_wrong_type_is_named_but_not_shown(portal_config):
    portal_config["PLUGINS"]["wechatpay"]["apiv3_key"] = ["leaked-key"]
    with pytest.raises(PluginError, match=r"plugin 'wechatpay' setting 'apiv3_key' must be text") as refused:
        create_app(portal_config)
    assert "leaked-key" not in str(refused.value)


def test_a_misspelled_setting_stops_startup(portal_config):
    portal_config["PLUGINS"]["github"]["allow_signup"] = False
    with pytest.raises(PluginError, match=r"plugin 'github' has no setting 'allow_signup'"):
        create_app(portal_config)


class SecondWeChatPay:
    name = "wechatpay"
    label = "Another WeChat Pay"

    @hookimpl
    def portal_payment_channels(self):
        return [self]


class SecondMailer:
    @hookimpl
    def portal_message_channels(self):
        return ["email"]


def test_two_plugins_offering_the_same_payment_channel_stop_startup(portal_config):
    with pytest.raises(PluginError, match=r"payment channel name 'wechatpay' is empty or offered twice"):
        create_app(dict(portal_config, PLUGINS_EXTRA=[SecondWeChatPay()]))


def test_two_plugins_delivering_codes_over_the_same_channel_stop_startup(portal_config):
    with pytest.raises(PluginError, match=r"plugins 'smtp' and '.*' both deliver codes over 'email'"):
        create_app(dict(portal_config, PLUGINS_EXTRA=[SecondMailer()]))
    # Without the bundled SMTP plugin, the other one is the only mailer.
    app = create_app(dict(portal_config, PLUGINS_DISABLED=("smtp",), PLUGINS_EXTRA=[SecondMailer()]))
    assert not plugin_manager(app).has_plugin("smtp")


def test_an_unconfigured_plugin_stays_off_with_one_log_line(portal_config, caplog):
    del portal_config["PLUGINS"]["alipay"]
    with caplog.at_level(logging.WARNING, logger="portal.plugins"):
        app = create_app(portal_config)
    assert not plugin_manager(app).has_plugin("alipay")
    with app.app_context():
        from portal.billing.channels import payment_channels

        assert "alipay" not in payment_channels()
    lines = [r.getMessage() for r in caplog.records if "alipay" in r.getMessage()]
    assert lines == ["plugin 'alipay' is installed but not configured: it stays off (give it its settings "
                     "in PLUGINS['alipay'], or list it in PLUGINS_DISABLED)"]


def test_a_partly_configured_plugin_stops_startup_naming_the_missing_keys(portal_config):
    portal_config["PLUGINS"]["alipay"] = {"app_id": "2021000000000000"}
    with pytest.raises(PluginError, match=r"plugin 'alipay' is missing required settings: seller_id, "
                                          r"app_private_key, alipay_public_key"):
        create_app(portal_config)


def test_a_plugin_named_in_plugins_enabled_must_be_configured(portal_config):
    del portal_config["PLUGINS"]["alipay"]
    with pytest.raises(PluginError, match=r"plugin 'alipay' is missing required settings: app_id"):
        create_app(dict(portal_config, PLUGINS_ENABLED=["alipay", "smtp"]))


def test_a_fresh_site_starts_with_every_plugin_installed_and_none_configured(portal_config):
    app = create_app(dict(portal_config, PLUGINS={}))
    loaded = {name for name, plugin in plugin_manager(app).list_name_plugin() if plugin is not None}
    # Only the plugins that need no settings are on.
    assert loaded & {"alipay", "wechatpay", "smtp", "aliyun_sms", "github", "qq", "wechat"} == set()
    assert plugin_manager(app).has_plugin("wechat_bonus")
    assert app.test_client().get("/auth/sign-in").status_code == 200
