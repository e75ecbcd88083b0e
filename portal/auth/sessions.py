"""Flask-Login wiring. The cookie carries ``<user id>:<session version>:<device session id>``; bumping
a user's ``session_version`` (sign-out, password change, disabling) ends every session of that user,
copied cookies and remember-me cookies included; ending a device session (portal.devices) ends that
one alone.

Session protection is "basic": Flask-Login's "strong" signs people out (and clears remember-me) on
every change of IP address, which on mobile networks is every hand-over; revocation goes through the
session version instead. The remember-me cookie gets the session cookie's hardening (``__Host-``
name when Secure, HttpOnly, SameSite=Lax, path /), and authenticated pages are never cached."""
from __future__ import annotations

import functools
import re

import sqlalchemy as sa
from flask import g

from portal.extensions import db, login_manager
from portal.i18n import lazy_gettext as _l

# Ids and versions are positive 63-bit integers; longer digit strings are not ours.
MAX_DIGITS = 18
_DEVICE_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,32}")


def _number(text: str) -> int | None:
    if not (text.isascii() and text.isdecimal() and 0 < len(text) <= MAX_DIGITS):
        return None
    return int(text)


def load_user(token: str):
    parts = (token or "").split(":")
    if len(parts) != 3 or not _DEVICE_SESSION_ID.fullmatch(parts[2]):
        return None
    user_id, version = _number(parts[0]), _number(parts[1])
    if user_id is None or version is None:
        return None
    row = db.session.execute(_session_user_statement(),
                             {"user_id": user_id, "public_id": parts[2]}).unique().first()
    if row is None:
        return None
    device_session, user = row
    if not user.is_active or user.session_version != version:
        return None
    user.device_session_id = device_session.public_id
    g.portal_device_session = device_session
    return user


@functools.cache
def _session_user_statement():
    """One round trip: the device session, its user and their emails (the navbar shows the primary
    one). Built once per process, the ids bind parameters: every signed-in request runs it, and
    building it cost more than running it."""
    from portal.devices import services as devices
    from portal.users.models import User

    return (
        devices.live_session_query(sa.bindparam("user_id"), sa.bindparam("public_id")).add_columns(User)
        .join(User, User.id == devices.DeviceSession.user_id)
        .options(db.joinedload(User.emails))
    )


def remember_cookie_name(config) -> str:
    return "__Host-portal_remember" if config["REMEMBER_COOKIE_SECURE"] else "portal_remember"


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"
    if app.config.get("REMEMBER_COOKIE_NAME", "remember_token") == "remember_token":
        app.config["REMEMBER_COOKIE_NAME"] = remember_cookie_name(app.config)
    # __Host- cookies must have path / and no domain.
    app.config["REMEMBER_COOKIE_PATH"] = "/"
    app.config["REMEMBER_COOKIE_DOMAIN"] = None

    @app.after_request
    def touch_device_session(response):
        from portal.devices import services as devices
        from portal.net import client_ip

        device_session = g.get("portal_device_session")
        if device_session is not None and devices.needs_touch(device_session):
            devices.touch(device_session.id, client_ip())
        return response

    @app.after_request
    def never_cache_signed_in_pages(response):
        # The user is loaded when the page used it; a page that never looked shows nobody's data.
        # (is_anonymous, not is_authenticated: that reads is_active, a statement after a commit.)
        user = g.get("_login_user")
        if user is not None and not user.is_anonymous:
            response.headers["Cache-Control"] = "no-store"
        return response
