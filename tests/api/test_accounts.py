"""Reading accounts and orders: what a key can see, with balances in fen, plans and quotas."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.extensions import db
from portal.timeutil import utcnow
from tests.api.conftest import error_code


def test_me_names_the_owner_and_the_key(owner, make_key, api_as):
    body = api_as(make_key(owner.id, scopes=["usage"], name="deploy-bot")).get("/me").get_json()
    assert body["id"] == owner.id
    assert body["email"] == "zhangsan@example.com"
    assert body["key"]["name"] == "deploy-bot"
    assert body["key"]["scopes"] == ["read", "usage"]
    assert body["key"]["prefix"].startswith("pk_") and len(body["key"]["prefix"]) == 11
    assert body["key"]["expires_at"].endswith("Z")


def test_accounts_lists_the_personal_account_and_organizations(owner, org, make_key, api_as):
    _member, account_id = org("admin")
    body = api_as(make_key(owner.id)).get("/accounts").get_json()
    assert [(a["id"], a["kind"], a["role"]) for a in body["accounts"]] == [
        (owner.account_id, "personal", "owner"),
        (account_id, "organization", "owner"),
    ]
    personal = body["accounts"][0]
    assert personal["balance_fen"] == 0
    assert personal["plan"]["key"] == "trial"
    assert {q["resource"]: (q["limit"], q["used"], q["left"]) for q in personal["quotas"]} == {
        "projects": (3, 0, 3),
        "containers": (5, 0, 5),
        "services": (3, 0, 3),
    }


def test_a_key_limited_to_an_account_sees_only_that_account(owner, org, make_key, api_as):
    _member, account_id = org("admin")
    client = api_as(make_key(owner.id, account_id=account_id))
    assert [a["id"] for a in client.get("/accounts").get_json()["accounts"]] == [account_id]
    assert client.get(f"/accounts/{account_id}").status_code == 200
    response = client.get(f"/accounts/{owner.account_id}")
    assert response.status_code == 404
    assert error_code(response) == "account_not_found"


def test_another_persons_account_is_not_found(owner, users, make_key, api_as, app):
    from portal.accounts.access import personal_account
    from portal.users.models import User

    stranger_id = users.create("stranger")
    with app.app_context():
        stranger_account = personal_account(db.session.get(User, stranger_id)).id
    client = api_as(make_key(owner.id))
    for account_id in (stranger_account, 999999, 2**31, 2**63 + 5):
        response = client.get(f"/accounts/{account_id}")
        assert response.status_code == 404, account_id
    assert client.get("/accounts/-1").status_code == 404
    assert client.get("/accounts/abc").status_code == 404


def test_members_read_their_organization(org, make_key, api_as):
    member_id, account_id = org("member")
    body = api_as(make_key(member_id)).get(f"/accounts/{account_id}").get_json()
    assert body["role"] == "member" and body["kind"] == "organization"


def _orders(app, account_id, states):
    from portal.billing.models import Order

    now = utcnow()
    with app.app_context():
        for n, state in enumerate(states):
            db.session.add(
                Order(
                    account_id=account_id,
                    channel="wechatpay",
                    amount_fen=100 * (n + 1),
                    state=state,
                    created_at=now + timedelta(seconds=n),
                    expires_at=now + timedelta(days=1),
                )
            )
        db.session.commit()


def test_orders_come_newest_first_in_pages_with_a_cursor(app, owner, make_key, api_as):
    _orders(app, owner.account_id, ["paid", "pending", "expired", "paid", "closed"])
    client = api_as(make_key(owner.id))
    first = client.get(f"/accounts/{owner.account_id}/orders", query_string={"limit": 2}).get_json()
    assert [o["amount_fen"] for o in first["orders"]] == [500, 400]
    second = client.get(
        f"/accounts/{owner.account_id}/orders", query_string={"limit": 2, "cursor": first["next_cursor"]}
    ).get_json()
    assert [o["amount_fen"] for o in second["orders"]] == [300, 200]
    last = client.get(
        f"/accounts/{owner.account_id}/orders", query_string={"limit": 2, "cursor": second["next_cursor"]}
    ).get_json()
    assert [o["amount_fen"] for o in last["orders"]] == [100]
    assert last["next_cursor"] is None
    order = last["orders"][0]
    assert order["state"] == "paid" and order["channel"] == "wechatpay"
    assert order["created_at"].endswith("Z") and order["paid_at"] is None


def test_orders_filter_by_state(app, owner, make_key, api_as):
    _orders(app, owner.account_id, ["paid", "pending", "paid"])
    body = (
        api_as(make_key(owner.id))
        .get(f"/accounts/{owner.account_id}/orders", query_string={"state": "paid"})
        .get_json()
    )
    assert [o["amount_fen"] for o in body["orders"]] == [300, 100]


@pytest.mark.parametrize(
    "query",
    [
        {"state": "refunded"},
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"cursor": "abc"},
        {"cursor": "0"},
        {"cursor": "9" * 19},
        {"page": 2},
    ],
)
def test_bad_order_queries_say_which_parameter(owner, make_key, api_as, query):
    response = api_as(make_key(owner.id)).get(f"/accounts/{owner.account_id}/orders", query_string=query)
    assert response.status_code == 422
    assert error_code(response) == "invalid_request"
    assert set(response.get_json()["error"]["fields"]) == set(query)
