"""Flask-Login wiring. The cookie carries ``<user id>:<session version>``; bumping a user's
``session_version`` (sign-out, password change, disabling) ends every session of that user,
copied cookies and remember-me cookies included."""
from __future__ import annotations

from portal.extensions import db, login_manager
from portal.i18n import lazy_gettext as _l


def load_user(token: str):
    from portal.users.models import User

    user_id, _, version = token.partition(":")
    if not (user_id.isdecimal() and version.isdecimal()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
