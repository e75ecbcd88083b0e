"""How money and accounts are shown."""
from __future__ import annotations

from portal.i18n import gettext as _


def yuan(fen) -> str:
    """Integer fen as yuan, never through float: 1234 -> "¥12.34", -5 -> "-¥0.05"."""
    if fen is None:
        return ""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def account_kind_label(account) -> str:
    return _("Personal account") if account.is_personal else _("Organization account")


def account_handle(account) -> str:
    """The username for a personal account, the slug for an organization's."""
    return account.user.username if account.is_personal else account.org.slug


def account_display_name(account) -> str:
    """What people call the account: the username, or the organization's display name."""
    return account.user.username if account.is_personal else account.org.name
