"""Opening accounts, and listing the ones a person may act on.

Every user and every organization owns exactly one account; both start on the trial plan."""
from __future__ import annotations

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
    in two queries whatever the number of organizations."""
    from portal.orgs.models import Membership, Organization

    personal = db.session.scalars(
        db.select(Account).filter_by(user_id=user.id).options(db.joinedload(Account.user))
    ).all()
    orgs = db.session.scalars(
        db.select(Account)
        .join(Organization, Organization.id == Account.org_id)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user.id, Organization.deleted_at.is_(None))
        .options(db.contains_eager(Account.org))
        .order_by(Organization.slug_key)
    ).all()
    return [*personal, *orgs]
