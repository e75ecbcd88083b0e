"""Security notices: a change to the ways into an account tells its owner what, when, from where, in
their language, by the primary email and the bound phone; a failed delivery never undoes the change."""
from __future__ import annotations

import logging

import pytest

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.notices import send_notice
from portal.plugins import DeliveryError, hookimpl
from portal.timeutil import utcnow
from portal.users.models import User
from portal_devkit.testing.plugin import DEFAULT_PASSWORD


class FailingNotices:
    """A delivery plugin whose notices always fail (and that is asked first)."""

    calls = 0

    @hookimpl(tryfirst=True)
    def portal_send_notice(self, channel, destination):
        FailingNotices.calls += 1
        raise DeliveryError("the relay is down")


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": ["smtp", "aliyun_sms"]}


def give_phone(app, user_id, e164):
    with app.app_context():
        user = db.session.get(User, user_id)
        user.phone, user.phone_verified_at = e164, utcnow()
        db.session.commit()


def notice(app, user_id, what, **request):
    with app.test_request_context(**request):
        return send_notice(db.session.get(User, user_id), what)


def test_a_notice_says_what_when_and_from_where_in_the_users_language(app, users, mailbox):
    user_id = users.create("nora", email="nora@example.com")
    with app.app_context():
        db.session.get(User, user_id).locale = "zh_CN"
        db.session.commit()
    sent = notice(app, user_id, _l("The password of your account was changed."),
                  environ_base={"REMOTE_ADDR": "203.0.113.7"}, headers={"Accept-Language": "en"})
    assert sent == 1
    message = mailbox.to("nora@example.com")[-1]
    assert "安全提醒" in message["subject"]
    assert "您账号的密码已修改。" in message["body"]
    assert "203.0.113.7" in message["body"] and "Asia/Shanghai" in message["body"]
    assert "如果不是您本人" in message["body"]


def test_a_notice_in_english_for_an_english_reader(app, users, mailbox):
    user_id = users.create("oscar", email="oscar@example.com")
    with app.app_context():
        db.session.get(User, user_id).locale = "en"
        db.session.commit()
    notice(app, user_id, _l("The phone %(phone)s was unbound from your account.", phone="138****0000"))
    body = mailbox.to("oscar@example.com")[-1]["body"]
    assert "The phone 138****0000 was unbound from your account." in body
    assert "If it was not you" in body


def test_it_goes_to_the_primary_email_and_the_bound_phone(app, users, mailbox):
    user_id = users.create("pia", email="pia@example.com")
    give_phone(app, user_id, "+8613800137001")
    assert notice(app, user_id, _l("The password of your account was changed.")) == 2
    sms = mailbox.to("+8613800137001")[-1]
    assert sms["template_code"] == "SMS_480000011"
    assert "您账号的密码已修改。" in sms["body"]


def test_an_unverified_primary_email_gets_no_notice(app, users, mailbox):
    user_id = users.create("quinn", email="quinn@example.com", verified=False)
    assert notice(app, user_id, _l("The password of your account was changed.")) == 0
    assert mailbox.to("quinn@example.com") == []


@pytest.fixture
def failing(portal_config):
    FailingNotices.calls = 0
    portal_config["PLUGINS_EXTRA"] = [FailingNotices()]
    return portal_config


def test_a_failed_delivery_is_logged_and_the_change_stands(failing, app, users, mailbox, caplog):
    client, user_id = users.signed_in_client("rita")
    form = {"old_password": DEFAULT_PASSWORD, "new_password": "a new and long passphrase", "channel": "email"}
    with caplog.at_level(logging.WARNING, logger="portal.notices"):
        assert client.submit("/user/password", {**form, "action": "send"}).status_code == 200
        changed = client.submit("/user/password", {**form, "code": mailbox.last_code("rita@example.com"),
                                                   "action": "confirm"})
    assert changed.status_code == 302
    assert FailingNotices.calls == 1
    assert "not delivered: the relay is down" in caplog.text
    with app.app_context():
        from portal.passwords import verify_password

        assert verify_password(db.session.get(User, user_id).password_hash, "a new and long passphrase")
