"""Flask-Login's manager, hardened: a remember-me cookie that is not what the portal wrote (not
ASCII, no signature, an absurd length) is ignored - the visitor is simply signed out - instead of
reaching code that raises on it (hmac.compare_digest refuses non-ASCII strings: a 500 on every page)."""
from __future__ import annotations

from flask_login import LoginManager

# "<user id>:<session version>|<sha512 hex digest>" is well under this.
REMEMBER_COOKIE_MAX_LENGTH = 256


def well_formed_remember_cookie(cookie) -> bool:
    return (
        isinstance(cookie, str)
        and 0 < len(cookie) <= REMEMBER_COOKIE_MAX_LENGTH
        and cookie.isascii()
        and cookie.isprintable()
        and "|" in cookie
    )


class PortalLoginManager(LoginManager):
    def _load_user_from_remember_cookie(self, cookie):
        if not well_formed_remember_cookie(cookie):
            return None
        return super()._load_user_from_remember_cookie(cookie)
