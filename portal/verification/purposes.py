"""What each code is for, in words: every email and SMS names it ("您的 Portal 注册验证码为 ..."),
and how long it stays valid.

The keys are the purposes codes are sent for (portal.verification.services.send_code); a purpose
with no label here gets the generic message, so a plugin's own purposes still go out.
"""
from __future__ import annotations

from datetime import timedelta

from portal.i18n import lazy_gettext as _l

# How long a code stays valid when its purpose is not in VALIDITY.
DEFAULT_VALIDITY = timedelta(minutes=10)

LABELS = {
    "sign_up": _l("signing up"),
    # 验证码登录: a code to the phone signs in (or, when phone sign-up is on, starts a sign-up).
    "sign_in": _l("signing in"),
    "sign_in_unlock": _l("signing in"),
    "verify_email": _l("binding an email"),
    "change_email": _l("changing the primary email"),
    "verify_phone": _l("binding a phone"),
    "change_phone": _l("changing the phone"),
    "unbind_phone": _l("unbinding the phone"),
    "change_password": _l("changing the password"),
    "reset_password": _l("resetting the password"),
    "step_up": _l("confirming it is you"),
}


def label(purpose: str) -> str | None:
    """The purpose in the current language ("注册", "signing up"), or None when it has no label."""
    found = LABELS.get(purpose)
    return str(found) if found is not None else None


# A code that alone opens an account is short-lived, as the consoles' 登录验证码 are.
VALIDITY = {
    "sign_in": timedelta(minutes=5),
}


def validity(purpose: str) -> timedelta:
    """How long a code for ``purpose`` may be used after it was sent."""
    return VALIDITY.get(purpose, DEFAULT_VALIDITY)
