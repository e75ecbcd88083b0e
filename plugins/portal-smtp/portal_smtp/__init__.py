"""Email delivery over SMTP: Portal's verification codes and security notices, sent through the
operator's relay."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from portal.plugins import DeliveryError, Setting, hookimpl, plugin_config

NAME = "smtp"
TIMEOUT_SECONDS = 15


@hookimpl
def portal_settings():
    return {
        "host": Setting("str", required=True),
        "port": Setting("int", required=True),
        "from_address": Setting("str", required=True),
        "username": Setting("str"),
        "password": Setting("secret"),
        # TLS unless the operator turns it off (a relay on localhost).
        "starttls": Setting("bool", default=True),
        # The CA of a relay with a private certificate; the system's CAs otherwise.
        "ca_file": Setting("str"),
    }


@hookimpl
def portal_message_channels():
    return ["email"]


@hookimpl
def portal_send_verification_code(channel, destination, subject, body, locale):
    if channel != "email":
        return None
    settings = plugin_config(NAME)
    message = compose(settings["from_address"], destination, subject, body, locale)
    send(settings, message)
    return message["Message-ID"]


@hookimpl
def portal_send_notice(channel, destination, subject, body, locale):
    if channel != "email":
        return None
    settings = plugin_config(NAME)
    message = compose(settings["from_address"], destination, subject, body, locale)
    send(settings, message)
    return message["Message-ID"]


def compose(from_address: str, to: str, subject: str, body: str, locale: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(from_address)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    # Automated mail: ask auto-responders not to answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    # After set_content, which drops every Content-* header.
    message["Content-Language"] = locale.replace("_", "-")
    return message


def send(settings: dict, message: EmailMessage) -> None:
    try:
        with smtplib.SMTP(settings["host"], settings["port"], timeout=TIMEOUT_SECONDS) as smtp:
            if settings["starttls"]:
                smtp.starttls(context=ssl.create_default_context(cafile=settings.get("ca_file") or None))
            if settings.get("username"):
                smtp.login(settings["username"], settings.get("password") or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        # The message holds a code: name the failure, never the message.
        relay = f"{settings['host']}:{settings['port']}"
        raise DeliveryError(f"SMTP delivery to {relay} failed: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient refused"
    return exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
