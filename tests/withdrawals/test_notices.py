"""Notices of 绑定支付宝 and 提现: binding and unbinding (a new place money can go), a withdrawal
requested (money held to move out), and what became of it (paid, rejected with the reason, failed
with Alipay's reason) reach the user's verified email, in their language."""
from __future__ import annotations

import secrets

from .conftest import bind, cli, give, personal_account_id, request_withdrawal, transfer_fault, verify

ZH = {"Accept-Language": "zh-CN"}


def ready(app, users, sandbox, balance_fen=10000, locale=None):
    """A verified user with an Alipay account bound and money: (user id, account id, email, masked)."""
    from portal.extensions import db
    from portal.users.models import User

    name = f"n{secrets.token_hex(4)}"
    user_id = users.create(name)
    if locale:
        with app.app_context():
            db.session.get(User, user_id).locale = locale
            db.session.commit()
    verify(app, user_id)
    masked = bind(app, sandbox, user_id, "openid")
    account_id = personal_account_id(app, user_id)
    give(app, account_id, balance_fen)
    return user_id, account_id, f"{name}@example.com", masked


def test_binding_and_unbinding_send_a_notice(app, sandbox, users, mailbox):
    from portal.extensions import db
    from portal.users.models import User
    from portal.withdrawals import binding

    user_id, _, address, masked = ready(app, users, sandbox)
    bound = mailbox.notices(address)
    assert len(bound) == 1
    assert f"The Alipay account {masked} was bound for withdrawals." in bound[0]["body"]

    with app.test_request_context():
        binding.unbind(db.session.get(User, user_id), "alipay")

    unbound = mailbox.notices(address)
    assert len(unbound) == 2
    assert f"The Alipay account {masked} was unbound; withdrawals need a bound account." in unbound[1]["body"]


def test_a_requested_withdrawal_sends_a_notice(app, sandbox, users, mailbox):
    user_id, account_id, address, masked = ready(app, users, sandbox)

    request_withdrawal(app, user_id, account_id, 2500)

    notice = mailbox.notices(address)[-1]["body"]
    assert f"A withdrawal of 25.00 yuan to {masked} was requested" in notice


def test_a_refused_request_sends_no_notice(app, sandbox, users, mailbox):
    user_id, account_id, address, _ = ready(app, users, sandbox, balance_fen=1000)
    before = len(mailbox.notices(address))

    _, error = request_withdrawal(app, user_id, account_id, 1001)

    assert error and len(mailbox.notices(address)) == before


def test_a_rejection_sends_its_reason(app, sandbox, users, mailbox):
    user_id, account_id, address, _ = ready(app, users, sandbox)
    wid, _ = request_withdrawal(app, user_id, account_id, 2500)

    assert cli(app, "reject", str(wid), "--reason", "收款账户信息待核实").exit_code == 0

    notice = mailbox.notices(address)[-1]["body"]
    assert "Your withdrawal of 25.00 yuan was rejected (收款账户信息待核实)" in notice
    assert "back in your balance" in notice


def test_a_payout_sends_a_notice_naming_the_masked_account(app, sandbox, users, mailbox):
    user_id, account_id, address, masked = ready(app, users, sandbox)
    wid, _ = request_withdrawal(app, user_id, account_id, 1234)

    assert cli(app, "approve", str(wid)).exit_code == 0

    notices = [n["body"] for n in mailbox.notices(address)]
    assert f"A withdrawal of 12.34 yuan was paid to {masked}." in notices[-1]
    assert "was requested" in notices[-2]


def test_a_failed_payout_sends_alipays_reason(app, sandbox, users, mailbox):
    user_id, account_id, address, _ = ready(app, users, sandbox)
    wid, _ = request_withdrawal(app, user_id, account_id, 700)
    transfer_fault(sandbox, fail="PAYEE_NOT_EXIST")

    cli(app, "approve", str(wid))

    notice = mailbox.notices(address)[-1]["body"]
    assert "Your withdrawal of 7.00 yuan could not be paid (" in notice and "PAYEE_NOT_EXIST" in notice


def test_notices_come_in_the_users_language(app, sandbox, users, mailbox):
    user_id, account_id, address, masked = ready(app, users, sandbox, locale="zh_CN")
    assert f"已绑定支付宝账户 {masked} 用于提现。" in mailbox.notices(address)[-1]["body"]
    wid, _ = request_withdrawal(app, user_id, account_id, 2500)
    assert f"已申请提现 25.00 元到 {masked}" in mailbox.notices(address)[-1]["body"]

    cli(app, "reject", str(wid), "--reason", "资料不全")

    assert "您的 25.00 元提现被驳回（资料不全）；金额已退回余额。" in mailbox.notices(address)[-1]["body"]
