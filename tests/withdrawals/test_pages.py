"""绑定支付宝 and 提现 pages: binding through the sandbox's authorization page (state single use and
bound to the session), unbinding with step-up, and the withdrawal form's bad input."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .conftest import balance, give, personal_account_id, verify, withdrawal

BIND = "/user/withdraw/bind/alipay"


def start_binding(client):
    answer = client.submit(BIND, {})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    location = answer.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["scope"] == ["auth_user"] and query["state"][0]
    return location, query


def choose(sandbox, location, persona):
    """The person picks a persona on the sandbox's authorization page; returns the callback path."""
    query = parse_qs(urlsplit(location).query)
    page = requests.get(location, timeout=10)
    assert page.status_code == 200 and "persona-openid" in page.text
    back = requests.post(location.split("?")[0], allow_redirects=False, timeout=10,
                         data={"app_id": query["app_id"][0], "redirect_uri": query["redirect_uri"][0],
                               "state": query["state"][0], "persona": persona})
    target = urlsplit(back.headers["Location"])
    return f"{target.path}?{target.query}"


def bind_through_pages(client, sandbox, persona="openid"):
    location, _ = start_binding(client)
    return client.get(choose(sandbox, location, persona))


def test_binding_shows_the_nickname_and_a_masked_account(app, sandbox, users, mailbox):
    client, user_id = users.signed_in_client()
    done = bind_through_pages(client, sandbox, "both")
    assert done.status_code == 302
    page = client.get("/user/withdraw/").get_data(as_text=True)
    assert "沙箱用户·双全" in page and "2088****6882" in page
    assert "2088102177846882" not in page and "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoBoth" not in page


def test_a_foreign_state_binds_nothing(app, sandbox, users):
    client, user_id = users.signed_in_client()
    location, _ = start_binding(client)
    callback = choose(sandbox, location, "openid")
    other, _ = users.signed_in_client()
    refused = other.get(callback)  # another session's state and code
    assert refused.status_code == 400 and b"not started here" in refused.data
    assert b"bind-alipay" in other.get("/user/withdraw/").data
    assert client.get(callback).status_code == 302


def test_the_state_is_single_use(app, sandbox, users):
    client, _ = users.signed_in_client()
    location, _ = start_binding(client)
    callback = choose(sandbox, location, "openid")
    assert client.get(callback).status_code == 302
    again = client.get(callback)
    assert again.status_code == 400 and b"already used" in again.data


def test_one_alipay_account_binds_one_user_and_the_refusal_names_nobody(app, sandbox, users):
    first, _ = users.signed_in_client()
    assert bind_through_pages(first, sandbox, "userid").status_code == 302
    second, _ = users.signed_in_client()
    refused = bind_through_pages(second, sandbox, "userid")
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "cannot be bound to your account" in text and "2088****6881" not in text


def test_a_refusal_at_alipay_binds_nothing(app, sandbox, users):
    client, _ = users.signed_in_client()
    location, _ = start_binding(client)
    answer = client.get(choose(sandbox, location, ""))
    assert answer.status_code == 400 and b"refused at Alipay" in answer.data


def test_unbinding_is_refused_while_a_withdrawal_is_pending(app, sandbox, users):
    client, user_id = users.signed_in_client()
    verify(app, user_id)
    bind_through_pages(client, sandbox, "openid")
    give(app, personal_account_id(app, user_id), 1000)
    assert client.submit("/user/withdraw/", {"amount": "1.00"}).status_code == 302
    refused = client.submit("/user/withdraw/unbind/alipay", {})
    assert refused.status_code == 400 and b"still pending" in refused.data
    from .conftest import cli

    with app.app_context():
        from portal.withdrawals.models import Withdrawal
        from portal.extensions import db

        wid = db.session.scalar(db.select(Withdrawal.id))
    assert cli(app, "reject", str(wid), "--reason", "test").exit_code == 0
    assert client.submit("/user/withdraw/unbind/alipay", {}).status_code == 302
    assert b"bind-alipay" in client.get("/user/withdraw/").data


@pytest.mark.parametrize("amount, words", [
    ("0", b"at least 0.10"), ("0.001", b"at most 2 decimals"), ("-1", b"digits 0-9"),
    ("\uff11\uff10\uff10", b"digits 0-9"), ("1e3", b"digits 0-9"), ("", b"Enter an amount"),
    ("10.01", b"cannot be withdrawn"), ("0.09", b"at least 0.10"),
])
def test_bad_amounts_get_a_clear_error_and_hold_nothing(app, sandbox, users, amount, words):
    client, user_id = users.signed_in_client()
    verify(app, user_id)
    bind_through_pages(client, sandbox, "openid")
    account_id = personal_account_id(app, user_id)
    give(app, account_id, 1000)
    answer = client.submit("/user/withdraw/", {"amount": amount})
    assert answer.status_code == 400 and words in answer.data, answer.get_data(as_text=True)[:3000]
    assert balance(app, account_id) == 1000


def test_above_the_daily_limit_is_refused(app, sandbox, users):
    app.config["WITHDRAWAL_DAILY_MAX_FEN"] = 500
    client, user_id = users.signed_in_client()
    verify(app, user_id)
    bind_through_pages(client, sandbox, "openid")
    give(app, personal_account_id(app, user_id), 1000)
    answer = client.submit("/user/withdraw/", {"amount": "5.01"})
    assert answer.status_code == 400 and b"a day" in answer.data


def test_a_withdrawal_shows_in_the_page_and_the_transactions(app, sandbox, users):
    client, user_id = users.signed_in_client()
    verify(app, user_id)
    bind_through_pages(client, sandbox, "openid")
    give(app, personal_account_id(app, user_id), 1000)
    assert client.submit("/user/withdraw/", {"amount": "2.50"}).status_code == 302
    page = client.get("/user/withdraw/").get_data(as_text=True)
    assert "Awaiting review" in page and "7.50" in page
    history = client.get("/billing/history").get_data(as_text=True)
    assert "Withdrawal" in history and "2.50" in history


def test_in_chinese_the_page_says_withdraw_money_and_the_statement_filters_dates(app, sandbox, users):
    client, user_id = users.signed_in_client()
    client.submit("/auth/locale", {"locale": "zh_CN", "next": "/user/withdraw/"}, page="/user/withdraw/")
    verify(app, user_id)
    bind_through_pages(client, sandbox, "openid")
    give(app, personal_account_id(app, user_id), 1000)
    assert client.submit("/user/withdraw/", {"amount": "1.00"}).status_code == 302
    page = client.get("/user/withdraw/").get_data(as_text=True)
    # 提现 (money out), not 撤回 (taking back an invitation), in the tab, the heading and the button.
    assert "撤回" not in page and page.count("提现</") >= 3, page
    assert "收款账户" in page and "新套餐" not in page
    history = client.get("/billing/history").get_data(as_text=True)
    assert "起始日期" in history and "截止日期" in history and "原套餐" not in history
