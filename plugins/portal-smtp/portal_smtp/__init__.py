"""Email delivery over SMTP: Portal's verification codes, sent through the operator's relay."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from portal.plugins import DeliveryError, hookimpl, plugin_config

NAME = "smtp"
TIMEOUT_SECONDS = 15


@hookimpl
def portal_required_config():
    return ["host", "port", "from_address"]


@hookimpl
def portal_send_verification_code(channel, destination, subject, body, locale):
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
        with smtplib.SMTP(settings["host"], int(settings["port"]), timeout=TIMEOUT_SECONDS) as smtp:
            # TLS unless the operator turns it off (a relay on localhost).
            if _enabled(settings.get("starttls", True)):
                # ca_file: the CA of a relay with a private certificate; the system's CAs otherwise.
                smtp.starttls(context=ssl.create_default_context(cafile=settings.get("ca_file") or None))
            if settings.get("username"):
                smtp.login(settings["username"], settings.get("password") or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        # The message holds a code: name the failure, never the message.
        relay = f"{settings['host']}:{settings['port']}"
        raise DeliveryError(f"SMTP delivery to {relay} failed: {_reason(exc)}") from None


def _enabled(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient refused"
    return exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
