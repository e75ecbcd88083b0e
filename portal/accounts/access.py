"""Which account a request acts on, and who may do what with it.

The current account is the personal one or one of the user's organizations, kept in the session
and re-checked on every request (membership can end at any time)."""
from __future__ import annotations

from flask import abort, session
from flask_login import current_user

from portal.accounts.models import Account
from portal.extensions import db

SESSION_KEY = "account_id"


def personal_account(user) -> Account:
    return db.session.scalar(db.select(Account).filter_by(user_id=user.id))


def managers(account: Account) -> list:
    """Who decides about the account's money: its person, or an organization's owners and admins."""
    if account.is_personal:
        return [account.user]
    from portal.orgs.models import Membership

    return [m.user for m in db.session.scalars(
        db.select(Membership).where(Membership.org_id == account.org_id, Membership.role.in_(("owner", "admin")))
    )]


def member_role(account: Account, user) -> str | None:
    """'owner' for the owner of a personal account; the membership role for an organization's.

    None for anyone else, for anonymous users, and for everyone once an organization is deleted."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if account.user_id is not None:
        return "owner" if account.user_id == user.id else None
    from portal.accounts.services import cached_role

    known, role = cached_role(account, user)
    if known:
        return role
    from portal.orgs.models import Membership, Organization

    return db.session.scalar(
        db.select(Membership.role)
        .join(Organization, Organization.id == Membership.org_id)
        .where(
            Membership.org_id == account.org_id,
            Membership.user_id == user.id,
            Organization.deleted_at.is_(None),
        )
    )


def can_view(account: Account, user) -> bool:
    return member_role(account, user) is not None


def can_manage(account: Account, user) -> bool:
    """Recharge, change the plan: owners and admins."""
    return member_role(account, user) in ("owner", "admin")


def set_current_account(account: Account) -> None:
    """Make ``account`` the one billing pages act on (the caller checked ``can_view``)."""
    session[SESSION_KEY] = account.id


def current_account() -> Account:
    """The account chosen in the session while the user may still view it, else the personal one.

    Picked from the user's accounts (read once per request), so the navbar and the page share them."""
    from portal.accounts.services import request_accounts

    accounts = request_accounts(current_user).accounts
    account_id = session.get(SESSION_KEY)
    if account_id is not None:
        chosen = next((a for a in accounts if a.id == account_id), None)
        if chosen is not None:
            return chosen
        session.pop(SESSION_KEY, None)
    personal = next((a for a in accounts if a.user_id == current_user.id), None)
    return personal if personal is not None else personal_account(current_user)


def account_or_404(account_id: int, manage: bool = False) -> Account:
    """The account named in a URL, or 404 when the user may not see (or manage) it."""
    account = db.session.get(Account, account_id)
    allowed = can_manage if manage else can_view
    if account is None or not allowed(account, current_user):
        abort(404)
    return account
