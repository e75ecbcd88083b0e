"""SQL statements per user-center page: at most three (the signed-in user with its emails and device
session, the user's accounts, the page's own data), the same whether the user has one or five emails,
linked identities, organizations and orders."""
from __future__ import annotations

import pytest

from portal.extensions import db
from tests.statements import recorded_statements

PAGES = [
    "/user/emails",
    "/user/phone",
    "/user/profile",
    "/account/info",
    "/billing/history",
    "/identities/",
    "/user/api-keys/",
    "/user/security-log",
    "/user/password",
]
MAX_STATEMENTS = 3
# Pages that also ask plugins something of their own: 第三方账户 asks portal_identity_perks, and the
# bundled WeChat bonus answers whether the user has it (one statement, however much the user has).
PLUGIN_STATEMENTS = {"/identities/": 1}


def give(app, user_id: int, n: int) -> None:
    """``n`` more emails, linked identities, organizations and paid or pending orders for the user."""
    from portal.accounts.access import personal_account
    from portal.billing import ledger
    from portal.billing.orders import open_order
    from portal.identities.models import Identity
    from portal.orgs.services import create_organization
    from portal.users.models import Email, User

    with app.app_context():
        user = db.session.get(User, user_id)
        account_id = personal_account(user).id
        start = db.session.scalar(db.select(db.func.count()).select_from(Email).filter_by(user_id=user_id))
        for i in range(start, start + n):
            db.session.add(Email(user_id=user_id, address=f"alias{i}@example.com", address_key=f"alias{i}@example.com"))
            db.session.add(Identity(user_id=user_id, provider=f"provider{i}", subject=f"subject{i}"))
            create_organization(user, f"team{i}", f"Team {i}")
            db.session.commit()
            open_order(account_id, "wechatpay", 100 + i, created_by_id=user_id)
            ledger.credit(account_id, 100 + i, "recharge")
            db.session.commit()


def statements_of(app, client, page: str) -> list[str]:
    client.get(page)  # warm up: first-request work is not the page's
    with recorded_statements(app) as statements:
        response = client.get(page)
    assert response.status_code == 200, page
    return statements


@pytest.fixture
def me(app, users):
    client, client.user_id = users.signed_in_client("alice")
    return client


@pytest.mark.parametrize("page", PAGES)
def test_a_user_center_page_sends_three_statements_however_much_the_user_has(app, me, page):
    give(app, me.user_id, 1)
    few = statements_of(app, me, page)
    give(app, me.user_id, 4)
    many = statements_of(app, me, page)

    print(f"{page}: {len(few)} statements")  # the figure reported for the issue (pytest -s)
    assert len(many) == len(few), "\n".join(many)
    assert len(few) <= MAX_STATEMENTS + PLUGIN_STATEMENTS.get(page, 0), "\n".join(few)
