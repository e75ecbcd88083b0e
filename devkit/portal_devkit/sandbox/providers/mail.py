"""SMTP sink: every email sent to it (and every SMS the SMS API accepts) listed at /mail/."""
from __future__ import annotations

import email
import email.policy
import ipaddress
import logging
import secrets
import shutil
import ssl
import tempfile
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Blueprint, current_app, render_template

from portal.timeutil import utcnow

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

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
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


class _QuietLoginData(logging.Filter):
    # aiosmtpd warns about its own deprecated attribute on every successful login.
    def filter(self, record):
        return "login_data is deprecated" not in record.getMessage()


def _self_signed_certificate(host: str, directory: Path) -> tuple[Path, Path]:
    """A certificate for ``host`` (an IP address), which is also the CA the plugin is told to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Portal sandbox SMTP")])
    now = utcnow()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def setup(sandbox) -> None:
    sandbox.state.setdefault("mail", {"messages": [], "smtp_password": secrets.token_urlsafe(16)})


def start(sandbox) -> None:
    state = sandbox.state["mail"]
    state["tls_dir"] = Path(tempfile.mkdtemp(prefix="portal-sandbox-smtp-"))
    cert_file, key_file = _self_signed_certificate(sandbox.host, state["tls_dir"])
    state["ca_file"] = str(cert_file)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    logging.getLogger("mail.log").addFilter(_QuietLoginData())
    # Like a real submission relay: STARTTLS first, then AUTH, then mail.
    controller = _SinkController(
        _SinkHandler(sandbox),
        hostname=sandbox.host,
        port=sandbox.smtp_port,
        tls_context=tls,
        require_starttls=True,
        authenticator=_Authenticator(state["smtp_password"]),
        auth_required=True,
    )
    controller.start()
    sandbox.smtp_port = controller.port
    state["controller"] = controller


def stop(sandbox) -> None:
    state = sandbox.state["mail"]
    controller = state.pop("controller", None)
    if controller is not None:
        controller.stop()
    if state.get("tls_dir"):
        shutil.rmtree(state.pop("tls_dir"), ignore_errors=True)


def plugin_settings(sandbox) -> dict:
    return {
        "smtp": {
            "host": sandbox.host,
            "port": sandbox.smtp_port,
            "username": SMTP_USERNAME,
            "password": sandbox.state["mail"]["smtp_password"],
            "from_address": "Portal <no-reply@portal.example>",
            "starttls": True,
            "ca_file": sandbox.state["mail"].get("ca_file"),
        }
    }


@bp.get("/")
def messages():
    sandbox = current_app.extensions["sandbox"]
    with sandbox.lock:
        received = list(reversed(sandbox.state["mail"]["messages"]))
    return render_template("sandbox/mail.html", messages=received, sandbox=sandbox)
