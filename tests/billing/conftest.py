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


@pytest.fixture
def live_portal(app):
    """The app on a real HTTP server, so the sandbox's channels can deliver notifications to it."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BILLING_NOTIFY_BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="portal-http")
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def fast_notifications(sandbox):
    """The channels' retry schedules, a thousand times faster."""
    sandbox.app.config["NOTIFY_TIME_SCALE"] = 0.001
    yield
    sandbox.app.config.pop("NOTIFY_TIME_SCALE", None)
    sandbox.clock_offset = 0


@pytest.fixture
def payer(app, users):
    """A signed-in client and the id of its personal account."""
    from portal.accounts.access import personal_account
    from portal.users.models import User
    from portal.extensions import db

    client, user_id = users.signed_in_client()
    with app.app_context():
        account_id = personal_account(db.session.get(User, user_id)).id
    client.account_id = account_id
    return client


@pytest.fixture
def org_member(app, users):
    """``org_member(role)`` -> (a signed-in client of a ``role`` member whose current account is a new
    organization's, that account's id)."""

    def make(role):
        from portal.extensions import db
        from portal.orgs import invitations
        from portal.orgs import services as orgs
        from portal.users.models import User

        owner_id = users.create()
        client, member_id = users.signed_in_client()
        with app.app_context():
            owner, member = db.session.get(User, owner_id), db.session.get(User, member_id)
            org = orgs.create_organization(owner, f"org{owner_id}", f"Org {owner_id}")
            invitation = invitations.invite(org, owner, member.username, role)
            invitations.accept_invitation(invitation.id, member)
            account_id = orgs.org_account(org).id
        with client.session_transaction() as session:
            session["account_id"] = account_id
        return client, account_id

    return make
