"""交易记录: every movement of the balance and every unpaid recharge, newest first, with the balance
after each movement; filters, keyset pages and a streamed CSV export."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime

import pytest

from tests.statements import recorded_statements

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
PLANS = {"standard": {"name": "Standard", "price_fen": 9900, "quotas": {"projects": 50}}}


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLANS": PLANS, "RECHARGE_MAX_PENDING_ORDERS": 1000}


def _rows(page: str) -> list[dict]:
    rows = []
    for match in re.finditer(r'<tr class="portal-statement-row[^"]*"\s*(?:data-order-id="(\d+)")?\s*'
                             r'data-kind="(\w+)" data-state="(\w+)">(.*?)</tr>', page, re.S):
        cells = [re.sub(r"<[^>]+>|\s+", " ", c).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", match.group(4), re.S)]
        rows.append({"order": match.group(1), "kind": match.group(2), "state": match.group(3),
                     "amount": cells[3], "balance": cells[4], "status": cells[5]})
    return rows


def _history(app, payer):
    """A paid recharge of 200.00, a plan bought for 99.00, an adjustment, a pending and an expired order."""
    from portal.accounts import plans
    from portal.accounts.models import Account
    from portal.billing import ledger, orders
    from portal.extensions import db

    with app.test_request_context(headers=EN):
        paid = orders.open_order(payer.account_id, "alipay", 20000)
        orders.apply_payment(paid, "T-paid", 20000)
        account = db.session.get(Account, payer.account_id)
        plans.change_plan(account, "standard", account.user)
        ledger.credit(payer.account_id, 500, "adjustment", reference="support ticket 42")
        db.session.commit()
        expired = orders.open_order(payer.account_id, "wechatpay", 300)
        orders.expire(expired)
        pending = orders.open_order(payer.account_id, "wechatpay", 1000)
        return {"paid": paid.id, "expired": expired.id, "pending": pending.id}


def test_the_statement_shows_every_movement_with_the_balance_after(app, payer, make_account):
    from portal.billing import orders
    from portal.extensions import db

    ids = _history(app, payer)
    other = make_account()
    with app.app_context():
        orders.open_order(other, "alipay", 777)  # another account's order never shows
        db.session.commit()

    rows = _rows(payer.get("/billing/history", headers=ZH).get_data(as_text=True))

    assert [(r["kind"], r["state"]) for r in rows] == [
        ("recharge", "pending"), ("recharge", "expired"), ("adjustment", "completed"),
        ("plan_charge", "completed"), ("recharge", "paid"),
    ]
    assert [r["amount"] for r in rows] == ["+¥10.00", "+¥3.00", "+¥5.00", "−¥99.00", "+¥200.00"]
    assert [r["balance"] for r in rows] == ["", "", "¥106.00", "¥101.00", "¥200.00"]
    assert [r["status"] for r in rows] == ["等待付款", "已过期", "已完成", "已完成", "已支付"]
    assert rows[0]["order"] == str(ids["pending"]) and rows[-1]["order"] == str(ids["paid"])


def test_a_pending_line_offers_pay_and_close_and_others_do_not(app, payer):
    ids = _history(app, payer)

    page = payer.get("/billing/history").get_data(as_text=True)

    assert f"/billing/orders/{ids['pending']}/pay" in page and f"/billing/orders/{ids['pending']}/close" in page
    assert f"/billing/orders/{ids['expired']}/pay" not in page


@pytest.mark.parametrize("query, expected", [
    ("kind=plan_charge", [("plan_charge", "completed")]),
    ("kind=recharge", [("recharge", "pending"), ("recharge", "expired"), ("recharge", "paid")]),
    ("state=pending", [("recharge", "pending")]),
    ("state=paid", [("recharge", "paid")]),
    ("kind=adjustment&state=completed", [("adjustment", "completed")]),
    ("kind=refund", []),
])
def test_filters_by_type_and_state(app, payer, query, expected):
    _history(app, payer)

    rows = _rows(payer.get(f"/billing/history?{query}").get_data(as_text=True))

    assert [(r["kind"], r["state"]) for r in rows] == expected


def test_filters_by_dates_in_the_sites_time_zone(app, payer):
    from portal.billing import orders

    with app.app_context():
        # 2026-03-01 23:30 in Shanghai is 15:30 UTC on the same day.
        march = orders.open_order(payer.account_id, "alipay", 100, now=datetime(2026, 3, 1, 15, 30))
        april = orders.open_order(payer.account_id, "alipay", 200, now=datetime(2026, 4, 2, 1, 0))
        march_id, april_id = march.id, april.id

    def shown(query):
        return [int(r["order"]) for r in _rows(payer.get(f"/billing/history?{query}").get_data(as_text=True))]

    assert shown("since=2026-03-01&until=2026-03-01") == [march_id]
    assert shown("since=2026-03-02") == [april_id]
    assert shown("until=2026-04-01") == [march_id]
    assert shown("since=2026-04-02&until=2026-04-02") == [april_id]


@pytest.mark.parametrize("query", ["since=2026-13-01", "since=yesterday", "since=2026-05-02&until=2026-05-01",
                                   "kind=bonus'--", "state=stolen", "cursor=abc", "cursor=" + "A" * 40])
def test_bad_filters_are_a_clear_400(app, payer, query):
    response = payer.get(f"/billing/history?{query}", headers=EN)

    assert response.status_code == 400


def test_a_backwards_range_says_why(app, payer):
    page = payer.get("/billing/history?since=2026-05-02&until=2026-05-01", headers=EN).get_data(as_text=True)

    assert "The end date is before the start date." in page


def test_keyset_pages_list_every_line_once_even_at_the_same_instant(app, payer):
    from portal.billing import orders
    from portal.timeutil import utcnow

    instant = utcnow().replace(microsecond=0)
    with app.app_context():
        ids = {orders.open_order(payer.account_id, "alipay", 100 + i, now=instant).id for i in range(45)}

    seen, url = [], "/billing/history"
    while url:
        page = payer.get(url).get_data(as_text=True)
        seen += [int(r["order"]) for r in _rows(page)]
        found = re.search(r'href="([^"]+)" id="billing-next"', page)
        url = html.unescape(found.group(1)) if found else None

    assert sorted(seen) == sorted(ids) and len(seen) == 45
    assert seen == sorted(seen, reverse=True)


def test_a_page_costs_the_same_statements_with_ten_or_a_hundred_entries(app, payer, make_account):
    from portal.billing import ledger
    from portal.extensions import db

    def statements_for_page():
        with recorded_statements(app) as statements:
            assert payer.get("/billing/history").status_code == 200
        return len(statements)

    def add_entries(n):
        with app.app_context():
            for _ in range(n):
                ledger.credit(payer.account_id, 1, "adjustment", reference="test")
            db.session.commit()

    add_entries(10)
    few = statements_for_page()
    add_entries(90)
    many = statements_for_page()

    assert few == many


def test_the_csv_export_streams_the_filtered_statement_for_excel(app, payer):
    _history(app, payer)

    response = payer.get("/billing/history.csv?kind=recharge", headers=ZH)

    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["时间", "订单号/参考", "类型", "金额（元）", "变动后余额（元）", "状态"]
    assert [(r[2], r[3], r[5]) for r in rows[1:]] == [
        ("充值", "+10.00", "等待付款"), ("充值", "+3.00", "已过期"), ("充值", "+200.00", "已支付"),
    ]
    assert rows[3][4] == "200.00"


def test_the_csv_export_refuses_bad_filters(app, payer):
    assert payer.get("/billing/history.csv?since=nope").status_code == 400


def test_csv_cells_that_would_be_formulas_are_defused(app, payer):
    from portal.billing import ledger
    from portal.extensions import db

    with app.app_context():
        ledger.credit(payer.account_id, 100, "adjustment", reference="=HYPERLINK(\"http://x\")")
        db.session.commit()

    rows = list(csv.reader(io.StringIO(payer.get("/billing/history.csv").get_data().decode("utf-8-sig"))))

    assert rows[1][1] == "'=HYPERLINK(\"http://x\")" and rows[1][3] == "+1.00"


def test_each_account_sees_only_its_own_statement(app, payer, org_member):
    from portal.billing import ledger
    from portal.extensions import db

    client, org_account_id = org_member("admin")
    with app.app_context():
        ledger.credit(org_account_id, 4200, "adjustment", reference="org money")
        db.session.commit()

    assert _rows(payer.get("/billing/history").get_data(as_text=True)) == []
    assert [r["amount"] for r in _rows(client.get("/billing/history").get_data(as_text=True))] == ["+¥42.00"]
    assert "org money" not in payer.get("/billing/history.csv").get_data(as_text=True)


def test_the_running_balance_is_stored_with_each_entry(app, make_account):
    from portal.billing import ledger
    from portal.extensions import db

    account_id = make_account(1000)
    with app.app_context():
        ledger.debit(account_id, 300, "plan_charge", reference="x")
        ledger.credit(account_id, 50, "adjustment", reference="y")
        db.session.commit()
        assert [e.balance_after_fen for e in ledger.entries(account_id)] == [750, 700, 1000]
