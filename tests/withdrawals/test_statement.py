"""提现 in 交易记录: the hold shows as 提现中 while the withdrawal is open, as a completed 提现 once
paid; a rejected or failed one shows its hold as returned and its release with the reason."""
from __future__ import annotations

import csv
import io
import re

from .conftest import cli, ledger_ok, request_withdrawal, transfer_fault

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def rows(page: str) -> list[dict]:
    found = []
    for match in re.finditer(r'<tr class="portal-statement-row[^"]*"\s*(?:data-order-id="\d+")?\s*'
                             r'data-kind="(\w+)" data-state="(\w+)">(.*?)</tr>', page, re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split())
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", match.group(3), re.S)]
        found.append({"kind": match.group(1), "state": match.group(2), "type": cells[2], "amount": cells[3],
                      "balance": cells[4], "status": cells[5]})
    return found


def signed_in(app, users, withdrawer, balance_fen=10000):
    """A client signed in as a user ready to withdraw, and that user's (id, account id)."""
    from portal.extensions import db
    from portal.users.models import User

    user_id, account_id = withdrawer(balance_fen)
    client = app.test_client()
    with app.app_context():
        users.sign_in(client, db.session.get(User, user_id).username)
    return client, user_id, account_id


def test_an_open_withdrawal_shows_as_withdrawal_pending(app, users, withdrawer):
    client, user_id, account_id = signed_in(app, users, withdrawer)
    request_withdrawal(app, user_id, account_id, 2500)

    zh = rows(client.get("/billing/history", headers=ZH).get_data(as_text=True))
    assert zh[0] == {"kind": "withdrawal_hold", "state": "withdrawing", "type": "提现", "amount": "−¥25.00",
                     "balance": "¥75.00", "status": "提现中"}
    en = rows(client.get("/billing/history", headers=EN).get_data(as_text=True))
    assert en[0]["status"] == "Withdrawal pending"

    assert ledger_ok(app)


def test_a_withdrawal_being_paid_is_still_pending_and_a_paid_one_is_final(app, sandbox, users, withdrawer):
    client, user_id, account_id = signed_in(app, users, withdrawer)
    wid, _ = request_withdrawal(app, user_id, account_id, 1234)
    transfer_fault(sandbox, dealing=1)
    cli(app, "approve", str(wid))
    assert rows(client.get("/billing/history", headers=ZH).get_data(as_text=True))[0]["status"] == "提现中"

    cli(app, "reconcile")  # the sandbox answers DEALING once more
    assert "1 paid" in cli(app, "reconcile").output

    lines = rows(client.get("/billing/history", headers=ZH).get_data(as_text=True))
    assert [(r["kind"], r["state"], r["status"], r["amount"]) for r in lines] == [
        ("withdrawal_hold", "completed", "已完成", "−¥12.34"), ("adjustment", "completed", "已完成", "+¥100.00")]
    assert lines[0]["type"] == "提现" and lines[0]["balance"] == "¥87.66"
    assert ledger_ok(app)


def test_a_rejected_withdrawal_shows_its_release_with_the_reason(app, users, withdrawer):
    client, user_id, account_id = signed_in(app, users, withdrawer)
    wid, _ = request_withdrawal(app, user_id, account_id, 2500)
    assert cli(app, "reject", str(wid), "--reason", "收款账户信息待核实").exit_code == 0

    lines = rows(client.get("/billing/history", headers=ZH).get_data(as_text=True))
    assert [(r["kind"], r["state"], r["amount"], r["balance"]) for r in lines[:2]] == [
        ("withdrawal_release", "completed", "+¥25.00", "¥100.00"),
        ("withdrawal_hold", "returned", "−¥25.00", "¥75.00")]
    assert lines[0]["type"] == "提现退回" and lines[0]["status"] == "已完成 已驳回：收款账户信息待核实"
    assert lines[1]["status"] == "已退回"
    en = rows(client.get("/billing/history", headers=EN).get_data(as_text=True))
    assert en[0]["status"] == "Completed Rejected: 收款账户信息待核实" and en[1]["status"] == "Returned"
    assert ledger_ok(app)


def test_a_failed_payout_shows_its_release_with_alipays_reason(app, sandbox, users, withdrawer):
    client, user_id, account_id = signed_in(app, users, withdrawer)
    wid, _ = request_withdrawal(app, user_id, account_id, 700)
    transfer_fault(sandbox, fail="PAYEE_NOT_EXIST")
    cli(app, "approve", str(wid))

    lines = rows(client.get("/billing/history", headers=EN).get_data(as_text=True))
    assert lines[0]["kind"] == "withdrawal_release" and lines[0]["amount"] == "+¥7.00"
    assert lines[0]["status"].startswith("Completed Payout failed: ") and "PAYEE_NOT_EXIST" in lines[0]["status"]
    assert lines[1]["state"] == "returned"
    assert ledger_ok(app)


def test_the_statement_filters_by_withdrawal_state_and_exports_the_reason(app, users, withdrawer):
    client, user_id, account_id = signed_in(app, users, withdrawer)
    request_withdrawal(app, user_id, account_id, 1000)
    rejected, _ = request_withdrawal(app, user_id, account_id, 2000)
    assert cli(app, "reject", str(rejected), "--reason", "=HYPERLINK(1)").exit_code == 0

    def shown(query):
        page = client.get(f"/billing/history?{query}", headers=EN).get_data(as_text=True)
        return [(r["kind"], r["amount"]) for r in rows(page)]

    assert shown("state=withdrawing") == [("withdrawal_hold", "−¥10.00")]
    assert shown("state=returned") == [("withdrawal_hold", "−¥20.00")]
    assert shown("state=completed") == [("withdrawal_release", "+¥20.00"), ("adjustment", "+¥100.00")]
    assert shown("kind=withdrawal_hold&state=completed") == []

    exported = client.get("/billing/history.csv", headers=EN).get_data().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(exported)))
    assert table[1][2:] == ["Withdrawal released", "+20.00", "90.00", "Completed Rejected: =HYPERLINK(1)"]
    assert [r[5] for r in table[2:]] == ["Returned", "Withdrawal pending", "Completed"]
    assert ledger_ok(app)
