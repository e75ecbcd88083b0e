"""Who counts as verified, and the check that actions needing a verified identity call.

A personal account is verified when its user is; an organization when one of its owners is.
``REALNAME_REQUIRED_FOR`` names the actions that need it ("paid_plan"; later "withdrawal"); with no
``REALNAME_BACKEND`` the feature is off and nothing is required. Recharging never needs it.
"""
from __future__ import annotations

from flask import current_app, url_for

from portal.extensions import db
from portal.i18n import gettext as _
from portal.realname import services

PAID_PLAN = "paid_plan"
WITHDRAWAL = "withdrawal"


class IdentityRequired(Exception):
    """The action needs a verified identity; ``message`` says so, ``url`` is the 实名认证 tab."""

    def __init__(self, message: str, url: str | None):
        super().__init__(message)
        self.message = message
        self.url = url


def enabled() -> bool:
    return bool(current_app.config.get("REALNAME_BACKEND"))


def required_for(action: str) -> bool:
    return enabled() and action in (current_app.config.get("REALNAME_REQUIRED_FOR") or ())


def verified_owners(account) -> list:
    """The users whose verified identity makes ``account`` verified (the user; the org's verified
    owners)."""
    from portal.orgs.models import Membership
    from portal.realname.models import PASSED, Verification
    from portal.users.models import User

    if account.user_id is not None:
        return [account.user] if services.is_verified(account.user_id) else []
    return list(db.session.scalars(
        db.select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(Verification, Verification.user_id == User.id)
        .where(Membership.org_id == account.org_id, Membership.role == "owner", Verification.status == PASSED)
        .order_by(User.id)
    ))


def account_verified(account) -> bool:
    return bool(verified_owners(account))


def require_verified_identity(account, action: str) -> None:
    """Raise IdentityRequired when ``action`` on ``account`` needs a verified identity it lacks."""
    if not required_for(action) or account_verified(account):
        return
    try:
        url = url_for("realname.index")
    except RuntimeError:  # outside a request (CLI, jobs)
        url = None
    if account.user_id is not None:
        message = _("Buying this needs a verified identity (real-name verification): verify yours first.")
    else:
        message = _("Buying this needs a verified organization: one of its owners must verify their identity "
                    "(real-name verification) first.")
    raise IdentityRequired(message, url)
