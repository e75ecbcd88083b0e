"""Wrong second-factor codes (authenticator or recovery code) are limited per user like wrong
passwords: 5 in 5 minutes, 20 in an hour. A 6-digit code has a million values and three are valid at
once (see portal.mfa.totp), so 20 tries an hour leave a guesser about one chance in 17 000 a day."""
from __future__ import annotations

from portal import ratelimits
from portal.i18n import gettext as _
from portal.mfa.errors import SecondFactorError

LIMITS = ("5/5minutes", "20/hour")


def check(user_id: int) -> None:
    """Raise when ``user_id`` has no second-factor attempts left (nothing is counted)."""
    if not all(ratelimits.allowed(limit, "portal", "mfa_wrong", str(user_id)) for limit in LIMITS):
        raise SecondFactorError(_("Too many wrong codes. Wait a few minutes and try again."))


def count_failure(user_id: int) -> None:
    for limit in LIMITS:
        ratelimits.hit(limit, "portal", "mfa_wrong", str(user_id))
