"""What the navbar and the centers' headings show about accounts, computed once per request: the
current account, the user's role in it, every account they may switch to (organizations by name, with
their role) and how many invitations wait for an answer. The switcher, the heading, the tab bar and
the badges all read this one answer, so they always agree on which account is current."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import g, session
from flask_login import current_user

from portal.accounts.access import SESSION_KEY
from portal.accounts.models import Account
from portal.extensions import db


@dataclass(frozen=True)
class Choice:
    account: Account
    # The user's role: 'owner' of their personal account, their membership role in an organization.
    role: str

    @property
    def is_personal(self) -> bool:
        return self.account.is_personal

    @property
    def name(self) -> str:
        """What people call the account: the username, or the organization's display name."""
        return self.account.user.username if self.is_personal else self.account.org.name


@dataclass(frozen=True)
class Navigation:
    current: Choice | None
    choices: list[Choice] = field(default_factory=list)
    invitations: int = 0

    @property
    def org(self):
        """The current organization, or None while the personal account is current."""
        return None if self.current is None or self.current.is_personal else self.current.account.org

    @property
    def orgs(self) -> list[Choice]:
        return [c for c in self.choices if not c.is_personal]


def _choices(user) -> list[Choice]:
    """The personal account, then each live organization's account with the user's role, from the
    request's one listing of the user's accounts."""
    from portal.accounts.services import request_accounts

    listed = request_accounts(user)
    return [Choice(account, listed.roles[account.id]) for account in listed.accounts]


def navigation() -> Navigation:
    """This request's answer (computed on first use; a signed-out visitor gets an empty one)."""
    if "portal_navigation" not in g:
        g.portal_navigation = _compute()
    return g.portal_navigation


def forget() -> None:
    """After the current account or a membership changed within the request."""
    g.pop("portal_navigation", None)


def _compute() -> Navigation:
    if g.get("database_down") or not current_user.is_authenticated:
        return Navigation(current=None)
    from portal.accounts.services import request_accounts

    user = current_user._get_current_object()
    choices = _choices(user)
    wanted = session.get(SESSION_KEY)
    current = next((c for c in choices if c.account.id == wanted), None)
    current = current or next((c for c in choices if c.is_personal), None)
    return Navigation(current=current, choices=choices, invitations=request_accounts(user).invitations)
