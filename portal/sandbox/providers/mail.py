"""SMTP sink: every email sent to it (and every SMS the SMS API accepts) listed at /mail/."""
from __future__ import annotations

import email
import email.policy
import secrets

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import Blueprint, current_app, render_template

bp = Blueprint("mail", __name__, url_prefix="/mail")

SMTP_USERNAME = "portal"


def record_message(sandbox, channel: str, to: str, subject: str, body: str, **extra) -> dict:
    """Add a received message (email or SMS) to the list the /mail/ page and the tests read."""
    message = {"channel": channel, "to": to, "subject": subject, "body": body, "at": sandbox.now(), **extra}
    with sandbox.lock:
        sandbox.state["mail"]["messages"].append(message)
    return message


class _SinkHandler:
    def __init__(self, sandbox):
        self.sandbox = sandbox

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # A relay only takes mail from users who logged in.
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        part = parsed.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        for recipient in envelope.rcpt_tos:
            record_message(
                self.sandbox, "email", recipient, str(parsed.get("Subject", "")), body,
                sender=envelope.mail_from, from_header=str(parsed.get("From", "")),
                language=str(parsed.get("Content-Language", "")),
            )
        return "250 Message accepted for delivery"


class _Authenticator:
    """Accepts exactly the sandbox's username and password, like a real relay would."""

    def __init__(self, password: str):
        self.password = password

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USERNAME.encode()
            and secrets.compare_digest(auth_data.password, self.password.encode())
        )
        return AuthResult(success=ok, handled=False)


class _SinkController(Controller):
    """aiosmtpd's controller, able to listen on port 0 (a free port) and report the real one."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def setup(sandbox) -> None:
    sandbox.state.setdefault("mail", {"messages": [], "smtp_password": secrets.token_urlsafe(16)})


def start(sandbox) -> None:
    controller = _SinkController(
        _SinkHandler(sandbox),
        hostname=sandbox.host,
        port=sandbox.smtp_port,
        authenticator=_Authenticator(sandbox.state["mail"]["smtp_password"]),
        # The sink runs on loopback without a certificate, so AUTH is offered in the clear (a real
        # relay would insist on TLS); handle_MAIL turns away clients that did not log in.
        auth_require_tls=False,
    )
    controller.start()
    sandbox.smtp_port = controller.port
    sandbox.state["mail"]["controller"] = controller


def stop(sandbox) -> None:
    controller = sandbox.state["mail"].pop("controller", None)
    if controller is not None:
        controller.stop()


def plugin_settings(sandbox) -> dict:
    return {
        "smtp": {
            "host": sandbox.host,
            "port": sandbox.smtp_port,
            "username": SMTP_USERNAME,
            "password": sandbox.state["mail"]["smtp_password"],
            "from_address": "Portal <no-reply@portal.example>",
            "starttls": False,
        }
    }


@bp.get("/")
def messages():
    sandbox = current_app.extensions["sandbox"]
    with sandbox.lock:
        received = list(reversed(sandbox.state["mail"]["messages"]))
    return render_template("sandbox/mail.html", messages=received, sandbox=sandbox)
