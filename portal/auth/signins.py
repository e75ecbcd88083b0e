"""Where every sign-in ends: the password form, the lockout code, a third-party provider, a passkey.

``sign_in(user, method, ...)`` either starts the session at once or, when the user has two-factor
sign-in on, keeps the half-done sign-in in the session (10 minutes) and sends the browser to the
second-factor page (``mfa.challenge``), which calls ``finish_pending`` once the factor is right.

Starting a session rotates the Flask session (nothing from before carries over), creates the device
session (portal.devices), records the sign-in in the security log, and tells the owner when the
device and network are new for the account.
"""
from __future__ import annotations

import time

from flask import redirect, request, session, url_for
from flask_login import login_user, logout_user

from portal.auth import stepup
from portal.extensions import db
from portal.net import client_ip
from portal.timeutil import utcnow

# Kept in the session across sign-in and sign-out; everything else is thrown away.
SURVIVES_ROTATION = ("locale",)
PENDING_KEY = "sign_in_pending"
PENDING_SECONDS = 600


def _rotate(keep_flashes: bool) -> None:
    kept = {key: session[key] for key in SURVIVES_ROTATION if key in session}
    flashes = session.get("_flashes") if keep_flashes else None
    session.clear()
    session.update(kept)
    if flashes:
        session["_flashes"] = flashes


def start_session(user, method: str, remember: bool = False, keep_flashes: bool = False,
                  details: dict | None = None) -> None:
    """Sign ``user`` in on a fresh session (``method``: "password", "provider:github", ...)."""
    from portal.devices import services as devices
    from portal.notices import send_notice
    from portal.security_log import record

    _rotate(keep_flashes)
    device_session, new_device = devices.start(user, client_ip(), request.user_agent.string, method)
    user.last_sign_in_at = utcnow()
    record("sign_in", user, actor=user, details={"method": method, "device": device_session.device,
                                                 **(details or {})})
    invitations = _waiting_invitations(user)
    # Before the commit expires the user (login_user reads its id, version and state): after it,
    # they would cost a statement. Should the commit fail, the device session the cookie names
    # does not exist, and the next request finds nobody signed in.
    user.device_session_id = device_session.public_id
    login_user(user, remember=remember)
    db.session.commit()
    # Signing in proved who this is; the step-up is fresh.
    stepup.mark_fresh()
    if new_device:
        send_notice(user, devices.new_device_notice(device_session))
    _tell_of_invitations(invitations)


def _waiting_invitations(user) -> int:
    from portal.orgs.invitations import pending_count_for

    return pending_count_for(user)


def _tell_of_invitations(waiting: int) -> None:
    """Invitations waiting for an answer are named at sign-in (the navbar's badge keeps counting)."""
    from flask import flash
    from flask_babel import ngettext

    if waiting:
        flash(ngettext("%(num)d organization invitation waits for your answer under Invitations.",
                       "%(num)d organization invitations wait for your answer under Invitations.", waiting),
              "info")


def end_session() -> None:
    kept = {key: session[key] for key in SURVIVES_ROTATION if key in session}
    logout_user()
    session.clear()
    session.update(kept)
    # logout_user asked for the remember-me cookie to be deleted; clearing the session forgot that.
    session["_remember"] = "clear"


def sign_in(user, method: str, next_path: str | None, remember: bool = False, keep_flashes: bool = False,
            unlock: bool = False):
    """Sign in, or ask for the second factor first; returns the redirect to follow.

    ``unlock``: the account is past its failed-attempt threshold; the second factor stands in for
    the code to the primary contact, and a success clears the count."""
    from portal.auth.services import is_local_path
    from portal.mfa import services as mfa

    if mfa.is_enabled(user):
        _rotate(keep_flashes)
        session[PENDING_KEY] = {"user_id": user.id, "version": user.session_version, "method": method,
                                "remember": bool(remember), "next": next_path or "", "unlock": unlock,
                                "expires": time.time() + PENDING_SECONDS}
        return redirect(url_for("mfa.challenge"))
    start_session(user, method, remember=remember, keep_flashes=keep_flashes)
    return redirect(next_path if is_local_path(next_path) else url_for("users.profile"))


def pending_user():
    """The user whose sign-in waits for a second factor in this session, or None."""
    from portal.users.models import User

    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("expires"), (int, float)) \
            or pending["expires"] < time.time():
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, pending.get("user_id"))
    if user is None or not user.is_active or user.session_version != pending.get("version"):
        session.pop(PENDING_KEY, None)
        return None
    return user


def finish_pending(user, second_factor: str):
    """The second factor was right: start the session; returns the redirect to follow."""
    from portal.auth import ratelimits
    from portal.auth.services import is_local_path

    pending = session.pop(PENDING_KEY)
    if pending.get("unlock"):
        ratelimits.clear("sign_in_failed_account", f"user:{user.id}")
    start_session(user, pending["method"], remember=pending.get("remember", False),
                  details={"second_factor": second_factor})
    target = pending.get("next")
    return redirect(target if is_local_path(target) else url_for("users.profile"))
