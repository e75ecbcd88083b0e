"""Helpers for the two-factor tests: enrolling a user, and the codes their authenticator shows."""
from __future__ import annotations

import time

import pyotp
import pytest

from portal.extensions import db
from portal.mfa import services, totp
from portal.mfa.models import TotpAuthenticator
from portal.users.models import User


@pytest.fixture
def portal_config(portal_config):
    # Codes and notices go by email; English pages read like the source strings.
    return {**portal_config, "PLUGINS_ENABLED": ["smtp", "aliyun_sms", "github"], "BABEL_DEFAULT_LOCALE": "en"}


@pytest.fixture
def app(app):
    class EnglishClient(app.test_client_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    app.test_client_class = EnglishClient
    return app


class Authenticator:
    """The phone app: knows the secret, shows the code of a time step."""

    def __init__(self, secret: str):
        self.totp = pyotp.TOTP(secret)

    @staticmethod
    def step(offset: int = 0) -> int:
        return int(time.time()) // totp.STEP_SECONDS + offset

    def code(self, offset: int = 0) -> str:
        return self.totp.generate_otp(self.step(offset))

    def wrong_code(self) -> str:
        """A code no step near now shows."""
        near = {self.code(offset) for offset in range(-3, 4)}
        return next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in near)


def secret_of(app, user_id: int) -> str:
    with app.app_context():
        row = db.session.scalar(db.select(TotpAuthenticator).filter_by(user_id=user_id))
        return totp.secret_of(row)


def enrol(app, user_id: int) -> tuple[Authenticator, list[str]]:
    """Turn two-factor sign-in on for ``user_id`` through the services; the app and recovery codes.
    The enrolment spends the previous step's code, so the current and next steps stay usable."""
    with app.test_request_context():
        user = db.session.get(User, user_id)
        nonce = services.start_enrolment(user)
        app_ = Authenticator(totp.secret_of(totp.pending(user.id, nonce)))
        codes = services.confirm_enrolment(user, nonce, app_.code(-1))
    return app_, codes


@pytest.fixture
def alice(app, users):
    """Alice (verified email alice@example.com) with two-factor sign-in on, signed out."""
    user_id = users.create("alice")
    authenticator, codes = enrol(app, user_id)
    authenticator.user_id, authenticator.recovery_codes = user_id, codes
    return authenticator


def sign_in_password(client, login="alice", **extra):
    from portal_devkit.testing.plugin import DEFAULT_PASSWORD

    return client.submit("/auth/sign-in", {"login": login, "password": DEFAULT_PASSWORD, **extra})


def is_signed_in(client) -> bool:
    return client.get("/user/profile").status_code == 200
