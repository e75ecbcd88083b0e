"""Step-up (re-authentication) before a change that adds or removes a way into the account or moves
money out: the person at the keyboard proves again that they are the account's owner, so that a
borrowed session (an unlocked computer, a copied cookie) cannot plant a permanent way in.

A step-up is *fresh* for 5 minutes (django-allauth's ``reauthenticate`` and its 300 s timeout) after
the user, in this session:

- entered their password (signing in with it counts, as it does for allauth), or
- for users without a password (signed up through a provider), entered a code sent to their primary
  contact (verified primary email or bound phone), or signed in again with a linked provider when
  they have no contact yet;
- with two-factor sign-in on: their second factor (a code from the authenticator app, a recovery code,
  or a passkey) and nothing else - a password or a code to a mailbox someone else may read is not
  enough any more.

Decorate a view with ``step_up_required``: a stale GET or POST is redirected to the step-up page
(``auth.step_up``), which returns to the page afterwards. A POST's form must then be submitted
again: nothing typed in it is replayed.
"""
from __future__ import annotations

import time
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, jsonify, redirect, request, session, url_for
from flask_login import current_user

from portal import passwords, ratelimits
from portal.i18n import gettext as _
from portal.users.models import User

FRESH_SECONDS = 5 * 60
SESSION_KEY = "stepup_at"
CODE_PURPOSE = "step_up"
# Wrong passwords on the step-up page, per user (the sign-in limit): a borrowed session must not
# become a way to guess the password.
WRONG_PASSWORD_LIMIT = "5/5minutes"

# Ways to step up, in the order the page offers them.
PASSWORD = "password"
CODE = "code"
PROVIDER = "provider"
SECOND_FACTOR = "second_factor"


class StepUpError(ValueError):
    """A step-up attempt refused; ``message`` is translated, ``field`` the form field it is about."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def is_fresh() -> bool:
    """True for 5 minutes after the current session's user last proved who they are."""
    at = session.get(SESSION_KEY)
    if not isinstance(at, (int, float)) or isinstance(at, bool):
        return False
    return 0 <= time.time() - at < FRESH_SECONDS


def mark_fresh() -> None:
    """The current session's user has just proved who they are (password, code, provider)."""
    session[SESSION_KEY] = time.time()


def methods(user: User) -> list[str]:
    """How ``user`` can step up, strongest first. With two-factor sign-in on, only the second factor."""
    from portal.mfa import services as mfa

    if mfa.is_enabled(user):
        return [SECOND_FACTOR]
    found = []
    if user.password_hash:
        found.append(PASSWORD)
    if code_destinations(user):
        found.append(CODE)
    if not found:
        # Neither a password nor a contact: signing in again with a linked provider is the only proof.
        found.append(PROVIDER)
    return found


def code_destinations(user: User) -> dict[str, str]:
    """Where a step-up code may go: ``{"email": address, "phone": e164}``, primary contacts only."""
    from portal.users.profile import password_code_destinations

    return password_code_destinations(user)


def step_up_url(next_path: str | None) -> str:
    from portal.auth.services import is_local_path

    return url_for("auth.step_up", next=next_path if is_local_path(next_path) else None)


def _return_path() -> str | None:
    """Where the step-up page sends the user back to: this page for a GET; for a POST the page its
    form was on (same-origin Referer), since the POST's own URL may not answer a GET."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.scheme in ("http", "https"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    adapter = current_app.url_map.bind_to_environ(request.environ)
    return request.path if adapter.test(request.path, method="GET") else None


def step_up_required(view):
    """Let the view run only while the step-up is fresh; otherwise send the user to step up.

    Apply it under ``login_required`` (or in a blueprint that requires sign-in); unsigned visitors
    go to the sign-in page."""

    @wraps(view)
    def decorated(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if is_fresh():
            return view(*args, **kwargs)
        target = step_up_url(_return_path())
        message = _("For your security, confirm it is you first.")
        if request.method != "GET":
            message = _("For your security, confirm it is you first, then submit the form again.")
        if request.accept_mimetypes.best == "application/json":
            return jsonify(ok=False, step_up=target, message=message), 401
        flash(message, "warning")
        return redirect(target)

    return decorated


# --- The proofs the step-up page checks ---------------------------------------------------------------

def check_password(user: User, password: str) -> None:
    """Mark the session fresh when ``password`` is the user's; raises StepUpError."""
    if SECOND_FACTOR in methods(user):
        raise StepUpError(_("Confirm with your second factor."), "code")
    if not user.password_hash:
        raise StepUpError(_("Your account has no password; confirm with a code instead."), "password")
    if not password:
        raise StepUpError(_("Enter your password."), "password")
    key = str(user.id)
    if not ratelimits.allowed(WRONG_PASSWORD_LIMIT, "portal", "step_up_wrong", key):
        raise StepUpError(_("Too many wrong passwords. Please try again in a few minutes."), "password")
    if not passwords.verify_password(user.password_hash, password):
        ratelimits.hit(WRONG_PASSWORD_LIMIT, "portal", "step_up_wrong", key)
        raise StepUpError(_("The password is wrong."), "password")
    mark_fresh()


def check_second_factor(user: User, code: str) -> None:
    """Mark the session fresh when ``code`` is a right authenticator or recovery code of the user."""
    from portal.mfa import services as mfa
    from portal.mfa.errors import SecondFactorError

    if SECOND_FACTOR not in methods(user):
        raise StepUpError(_("Two-factor sign-in is not on."), "code")
    try:
        mfa.verify(user, code)
    except SecondFactorError as exc:
        raise StepUpError(exc.message, "code") from None
    mark_fresh()


def _destination(user: User, channel: str) -> str:
    if SECOND_FACTOR in methods(user):
        raise StepUpError(_("Confirm with your second factor."), "code")
    destination = code_destinations(user).get(channel)
    if destination is None:
        raise StepUpError(_("Choose where to receive the verification code."), "channel")
    return destination


def send_code(user: User, channel: str) -> str:
    """Send a step-up code to the user's primary ``channel`` ("email" or "phone"); returns where."""
    from portal.users.contacts import ContactError, send_code_to

    destination = _destination(user, channel)
    try:
        send_code_to(CODE_PURPOSE, destination, user, "code")
    except ContactError as exc:
        raise StepUpError(exc.message, "code") from None
    return destination


def check_code(user: User, channel: str, code: str) -> None:
    """Mark the session fresh when ``code`` is the one sent to the user's ``channel``."""
    from portal.users.contacts import ContactError, check_code_from

    destination = _destination(user, channel)
    try:
        check_code_from(CODE_PURPOSE, destination, code, user, "code")
    except ContactError as exc:
        raise StepUpError(exc.message, "code") from None
    mark_fresh()
