"""Accounts to put money in: made through the accounts service, since money needs nothing else."""
from __future__ import annotations

import itertools

import pytest

_numbers = itertools.count(1)


@pytest.fixture
def make_account(app):
    """``make_account(balance_fen=0)`` -> the id of a new personal account (balance via the ledger)."""
    from portal.accounts.services import open_personal_account
    from portal.billing import ledger
    from portal.extensions import db
    from portal.users.models import User

    def make(balance_fen: int = 0) -> int:
        n = next(_numbers)
        with app.app_context():
            user = User(username=f"payer{n}", username_key=f"payer{n}")
            db.session.add(user)
            account = open_personal_account(user)
            db.session.flush()
            if balance_fen:
                ledger.credit(account.id, balance_fen, "adjustment", reference="opening balance")
            db.session.commit()
            return account.id

    return make
