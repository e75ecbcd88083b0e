"""The sandbox's SMTP sink and its page of received messages (email and SMS)."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import pytest
import requests


def _mail(to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "someone@example.org"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def _starttls(smtp, settings):
    smtp.starttls(context=ssl.create_default_context(cafile=settings["ca_file"]))


def test_the_sink_takes_mail_over_tls_from_a_logged_in_client_on_the_port_it_reports(sandbox, mailbox):
    settings = sandbox.plugin_settings()["smtp"]
    assert settings["port"] == sandbox.smtp_port != 0
    with smtplib.SMTP(settings["host"], settings["port"], timeout=10) as smtp:
        _starttls(smtp, settings)
        smtp.login(settings["username"], settings["password"])
        smtp.send_message(_mail("dora@example.com", "你好", "第一封"))
    received = mailbox.to("dora@example.com")[-1]
    assert (received["channel"], received["subject"], received["body"].strip()) == ("email", "你好", "第一封")


def test_the_sink_refuses_a_wrong_password_and_anonymous_mail(sandbox, mailbox):
    settings = sandbox.plugin_settings()["smtp"]
    with smtplib.SMTP(settings["host"], settings["port"], timeout=10) as smtp:
        _starttls(smtp, settings)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(settings["username"], "guess")
        with pytest.raises(smtplib.SMTPSenderRefused):
            smtp.send_message(_mail("eve@example.com", "spam", "spam"))
    assert mailbox.to("eve@example.com") == []


def test_the_sink_wants_tls_before_a_password(sandbox):
    settings = sandbox.plugin_settings()["smtp"]
    with smtplib.SMTP(settings["host"], settings["port"], timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPException):
            smtp.login(settings["username"], settings["password"])


def test_the_messages_page_lists_email_and_sms_newest_first(app, sandbox):
    from portal.verification.services import send_code

    with app.test_request_context(headers={"Accept-Language": "en"}):
        send_code("sign_up", "frank@example.com")
        send_code("bind_phone", "+8613600136000")
    page = requests.get(f"{sandbox.url}/mail/", timeout=10)
    assert page.status_code == 200
    html = page.text
    assert html.index("+8613600136000") < html.index("frank@example.com")
    assert "Portal verification code for signing up" in html and "【Portal】" in html
