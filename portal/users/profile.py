"""What a user changes about themselves in the user center: username, avatar and password."""
from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

from portal import ratelimits
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.notices import send_notice
from portal.users.contacts import ContactError, check_code_from, send_code_to
from portal.users.models import User

AVATAR_URL_MAX_LENGTH = 2048
CHANGE_PASSWORD = "change_password"
# Wrong current passwords per user (the sign-in limit, security-baseline): a signed-in session
# someone else holds must not become a way to guess the password.
WRONG_PASSWORD_LIMIT = "5/5minutes"


class ProfileError(ContactError):
    """A profile or password change refused; ``message`` and ``field`` as for ContactError."""


def rename(user: User, raw_username: str) -> None:
    """Give the user a new username; unique whatever its case (users.username_key decides)."""
    from portal.users.services import normalize_username, username_key

    try:
        username = normalize_username(raw_username)
    except ValueError as exc:
        raise ProfileError(str(exc), "username") from None
    key = username_key(username)
    taken = _("This username is taken.")
    if key != user.username_key:
        if db.session.scalar(db.select(User.id).where(User.username_key == key)) is not None:
            raise ProfileError(taken, "username")
    user.username = username
    user.username_key = key
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ProfileError(taken, "username") from None


def normalize_avatar_url(raw: str) -> str | None:
    """A direct https image link, or None to clear the avatar. The browser shows it; the server
    never fetches it, so no request of ours can be pointed at an internal address."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > AVATAR_URL_MAX_LENGTH:
        raise ProfileError(_("The avatar link can have at most 2048 characters."), "avatar_url")
    if not text.isascii() or any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise ProfileError(_("The avatar link may not contain spaces or special characters."), "avatar_url")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ProfileError(_("This is not a valid link."), "avatar_url") from None
    if parts.scheme.lower() != "https":
        raise ProfileError(_("The avatar link must start with https://."), "avatar_url")
    if not parts.hostname or parts.username or parts.password or "\\" in text:
        raise ProfileError(_("This is not a valid link."), "avatar_url")
    return text


def set_avatar(user: User, raw_url: str) -> None:
    user.avatar_url = normalize_avatar_url(raw_url)
    db.session.commit()


def update_profile(user: User, raw_username: str, raw_avatar_url: str) -> None:
    """Both fields of the profile form; checks both before changing either."""
    avatar_url = normalize_avatar_url(raw_avatar_url)
    if raw_username.strip() != user.username:
        rename(user, raw_username)
    if avatar_url != user.avatar_url:
        user.avatar_url = avatar_url
        db.session.commit()


def password_code_destinations(user: User) -> dict[str, str]:
    """Where a password-change code may go: ``{"email": address, "phone": e164}``, as bound."""
    destinations = {}
    primary = user.primary_email
    if primary is not None and primary.is_verified:
        destinations["email"] = primary.address
    if user.phone:
        destinations["phone"] = user.phone
    return destinations


def _check_passwords(user: User, old_password: str, new_password: str) -> None:
    from portal.passwords import password_problems, verify_password

    if user.password_hash is not None:
        if not old_password:
            raise ProfileError(_("Enter your current password."), "old_password")
        key = str(user.id)
        if not ratelimits.allowed(WRONG_PASSWORD_LIMIT, "portal", "change_password_wrong", key):
            raise ProfileError(_("Too many wrong passwords. Please try again in a few minutes."), "old_password")
        if not verify_password(user.password_hash, old_password):
            ratelimits.hit(WRONG_PASSWORD_LIMIT, "portal", "change_password_wrong", key)
            raise ProfileError(_("The current password is wrong."), "old_password")
    problems = password_problems(new_password or "", user.username)
    if problems:
        raise ProfileError(problems[0], "new_password")
    if old_password and new_password == old_password:
        raise ProfileError(_("The new password must differ from the current one."), "new_password")


def _destination(user: User, channel: str) -> str:
    destination = password_code_destinations(user).get(channel)
    if destination is None:
        raise ProfileError(_("Choose where to receive the verification code."), "channel")
    return destination


def send_password_code(user: User, old_password: str, new_password: str, channel: str) -> str:
    """Check the passwords first (as Rainyun does: old, new, then a code), then send the code.

    Returns where it went."""
    _check_passwords(user, old_password, new_password)
    destination = _destination(user, channel)
    try:
        send_code_to(CHANGE_PASSWORD, destination, user, "code")
    except ContactError as exc:
        raise ProfileError(exc.message, "code") from None
    return destination


def change_password(user: User, old_password: str, new_password: str, channel: str, code: str) -> None:
    """Set the new password after the old one and a code check out; every session of the user ends
    (the caller signs the current one in again)."""
    from portal.users.services import set_password

    _check_passwords(user, old_password, new_password)
    destination = _destination(user, channel)
    try:
        check_code_from(CHANGE_PASSWORD, destination, code, user, "code")
    except ContactError as exc:
        raise ProfileError(exc.message, "code") from None
    had_password = user.password_hash is not None
    from portal.security_log import record

    record("password_changed", user, details={"first_password": not had_password})
    set_password(user, new_password)
    send_notice(user, _l("The password of your account was changed.") if had_password
                else _l("A password was set on your account; it can now be used to sign in."))
