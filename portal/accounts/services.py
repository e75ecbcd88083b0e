"""Opening accounts, and listing the ones a person may act on.

Every user and every organization owns exactly one account; both start on the trial plan."""
from __future__ import annotations

import functools

import sqlalchemy as sa

from portal.accounts.models import Account
from portal.accounts.plans import TRIAL
from portal.extensions import db


def open_personal_account(user) -> Account:
    account = Account(user=user, plan_key=TRIAL)
    db.session.add(account)
    return account


def open_org_account(org) -> Account:
    account = Account(org=org, plan_key=TRIAL)
    db.session.add(account)
    return account


def accounts_of(user) -> list[Account]:
    """The user's personal account, then the account of each live organization they belong to,
    in one statement whatever the number of organizations, read once per request."""
    from flask import has_app_context

    if has_app_context():
        return list(request_accounts(user).accounts)
    return [row[0] for row in _accounts_and_roles(user)]


def _accounts_and_roles(user, invitations: bool = False) -> list[tuple]:
    rows = db.session.execute(_accounts_and_roles_statement(invitations), {"user_id": user.id}).all()
    return [(account, role or "owner", *rest) for account, role, *rest in rows]


@functools.cache
def _accounts_and_roles_statement(invitations: bool):
    """Built once per process, the user a bind parameter: every page runs it, and building it cost
    more than running it."""
    from portal.orgs.invitations import pending_count_query
    from portal.orgs.models import Membership, Organization

    user_id = sa.bindparam("user_id")
    columns = [pending_count_query(user_id).scalar_subquery()] if invitations else []
    return (
        db.select(Account, Membership.role, *columns)
        .outerjoin(Organization, Organization.id == Account.org_id)
        .outerjoin(Membership, (Membership.org_id == Organization.id) & (Membership.user_id == user_id))
        .where(
            (Account.user_id == user_id)
            | (Membership.user_id.is_not(None) & Organization.deleted_at.is_(None))
        )
        .options(db.contains_eager(Account.org))
        .order_by(Account.user_id.is_(None), Organization.slug_key)
    )


class RequestAccounts:
    """The accounts of the signed-in user and their role in each, read once per request: the navbar,
    the access checks and the page all ask."""

    def __init__(self, user):
        self.user_id = user.id
        rows = _accounts_and_roles(user, invitations=True)
        self.accounts = [row[0] for row in rows]
        self.roles = {row[0].id: row[1] for row in rows}
        # Invitations waiting for the user's answer (the navbar's badge), read in the same statement.
        self.invitations = rows[0][2] if rows else 0


def request_accounts(user) -> RequestAccounts:
    from flask import g

    cached = g.get("portal_accounts")
    if cached is None or cached.user_id != user.id:
        cached = g.portal_accounts = RequestAccounts(user)
    return cached


def cached_role(account: Account, user) -> tuple[bool, str | None]:
    """``(True, role)`` when this request already listed ``user``'s accounts, else ``(False, None)``."""
    from flask import g, has_app_context

    cached = g.get("portal_accounts") if has_app_context() else None
    if cached is None or cached.user_id != getattr(user, "id", None) or account.id is None:
        return False, None
    return True, cached.roles.get(account.id)


def forget_request_accounts(*_args) -> None:
    """After a write within a request, the next read lists the accounts (and roles) afresh."""
    from flask import g, has_app_context

    if has_app_context():
        g.pop("portal_accounts", None)


def _forget_after_orm_write(state) -> None:
    if state.is_update or state.is_delete:
        forget_request_accounts()


def forget_request_accounts_on_writes() -> None:
    """Any flush, bulk update or delete, commit or rollback drops the request's list of accounts, so
    no check ever reads roles from before a change made in the same request."""
    from sqlalchemy import event

    for name, listener in (("after_flush", forget_request_accounts), ("after_commit", forget_request_accounts),
                           ("after_rollback", forget_request_accounts), ("do_orm_execute", _forget_after_orm_write)):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
