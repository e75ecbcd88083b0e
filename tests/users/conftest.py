"""Helpers for the user-center tests: a signed-in client and codes from the sandbox's mailbox."""
from __future__ import annotations

import re

import pytest

from portal.extensions import db


@pytest.fixture
def portal_config(portal_config):
    # The user center needs only the delivery plugins (codes by email and SMS).
    return {**portal_config, "PLUGINS_ENABLED": ["smtp", "aliyun_sms"]}


@pytest.fixture
def app(app):
    """Clients read the pages in English, so assertions read like the source strings; one test
    checks the Chinese pages."""

    class EnglishClient(app.test_client_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    app.test_client_class = EnglishClient
    return app


@pytest.fixture
def me(app, users):
    """A signed-in user ("alice", verified email alice@example.com) and their client."""
    client, user_id = users.signed_in_client("alice")
    client.user_id = user_id
    return client


@pytest.fixture
def load(app):
    """``load(Model, id)``: a fresh copy from the database."""

    def _load(model, ident):
        with app.app_context():
            obj = db.session.get(model, ident)
            if obj is not None:
                db.session.refresh(obj)
                db.session.expunge(obj)
            return obj

    return _load


def page_errors(response) -> str:
    """The error texts a page shows (form feedback and alerts), for readable assertions."""
    html = response.get_data(as_text=True)
    return " ".join(re.findall(r'class="(?:invalid-feedback|alert alert-danger)[^"]*"[^>]*>\s*([^<]+)', html))


_phones = iter(range(10_000))


@pytest.fixture
def new_phone():
    """A different valid mainland mobile number each call: ``(typed, e164)``."""

    def _new():
        national = f"1380013{next(_phones):04d}"
        return national, f"+86{national}"

    return _new


def bind_phone(client, mailbox, typed, e164):
    """Bind a phone through the page: send the code, then enter it."""
    response = client.submit("/user/phone", {"phone": typed, "action": "send"})
    assert response.status_code == 200, page_errors(response)
    response = client.submit("/user/phone", {"phone": typed, "code": mailbox.last_code(e164), "action": "confirm"})
    assert response.status_code == 302, page_errors(response)


def give_phone(app, user_id, e164):
    """A phone already bound and verified (codes go to one address at most once a minute, so
    tests that then send it another code start from here)."""
    from portal.timeutil import utcnow
    from portal.users.models import User

    with app.app_context():
        user = db.session.get(User, user_id)
        user.phone, user.phone_verified_at = e164, utcnow()
        db.session.commit()
