"""Opening accounts. Every user and every organization owns exactly one account."""
from __future__ import annotations

from portal.accounts.models import Account
from portal.extensions import db


def open_personal_account(user) -> Account:
    account = Account(user=user)
    db.session.add(account)
    return account


def open_org_account(org) -> Account:
    account = Account(org=org)
    db.session.add(account)
    return account
