"""提现 start to finish against the sandbox's Alipay (certificate mode): hold, approve, pay, reject,
fail, reconcile, and every refusal changing nothing."""
from __future__ import annotations

import pytest

from .conftest import (
    balance,
    cli,
    entries,
    ledger_ok,
    request_withdrawal,
    transfer_fault,
    transfers,
    withdrawal,
)


def test_a_request_holds_at_once_and_an_approval_pays_once(app, sandbox, withdrawer):
    user_id, account_id = withdrawer(10000)
    wid, error = request_withdrawal(app, user_id, account_id, 1234)
    assert error is None
    assert balance(app, account_id) == 10000 - 1234
    assert withdrawal(app, wid)["state"] == "pending"
    assert transfers(sandbox, withdrawal(app, wid)["out_biz_no"]) == []
    listed = cli(app, "list")
    assert listed.exit_code == 0 and f"{wid}\tpending\t¥12.34" in listed.output

    result = cli(app, "approve", str(wid), "--operator", "ops")
    assert result.exit_code == 0, result.output
    assert withdrawal(app, wid)["state"] == "succeeded"
    paid = transfers(sandbox, withdrawal(app, wid)["out_biz_no"])
    assert len(paid) == 1 and paid[0]["amount"] == "12.34" and paid[0]["status"] == "SUCCESS"
    assert entries(app, account_id) == [("adjustment", 10000), ("withdrawal_hold", -1234)]
    assert balance(app, account_id) == 8766
    assert ledger_ok(app)

    again = cli(app, "approve", str(wid))
    assert again.exit_code != 0 and "Only a pending withdrawal can be approved" in again.output
    assert len(transfers(sandbox, withdrawal(app, wid)["out_biz_no"])) == 1


def test_a_payee_known_by_user_id_only_is_paid_by_user_id(app, sandbox, withdrawer):
    user_id, account_id = withdrawer(1000, persona="userid")
    wid, _ = request_withdrawal(app, user_id, account_id, 10)
    assert withdrawal(app, wid)["payee_type"] == "ALIPAY_USER_ID"
    assert cli(app, "approve", str(wid)).exit_code == 0
    assert withdrawal(app, wid)["state"] == "succeeded"
    assert transfers(sandbox, withdrawal(app, wid)["out_biz_no"])[0]["payee"] == "2088102177846881"


@pytest.mark.parametrize("fen, words", [
    (0, "at least 0.10"), (-5, "at least 0.10"), (9, "at least 0.10"), (5_000_001, "at most 50,000.00"),
    (10001, "The balance is 100.00 yuan"),
])
def test_bad_amounts_are_refused_and_change_nothing(app, withdrawer, fen, words):
    user_id, account_id = withdrawer(10000)
    wid, error = request_withdrawal(app, user_id, account_id, fen)
    assert wid is None and words in error
    assert balance(app, account_id) == 10000
    assert entries(app, account_id) == [("adjustment", 10000)]
    assert ledger_ok(app)


def test_the_daily_limit_counts_what_was_not_released(app, withdrawer):
    app.config["WITHDRAWAL_DAILY_MAX_FEN"] = 5000
    user_id, account_id = withdrawer(10000)
    first, _ = request_withdrawal(app, user_id, account_id, 3000)
    second, error = request_withdrawal(app, user_id, account_id, 2001)
    assert second is None and "limited to 50.00 yuan a day; 20.00 yuan are left today" in error
    assert cli(app, "reject", str(first), "--reason", "资料不全").exit_code == 0
    again, error = request_withdrawal(app, user_id, account_id, 5000)
    assert error is None and again
    assert balance(app, account_id) == 5000
    assert ledger_ok(app)


def test_without_verification_or_binding_or_from_an_organization_is_refused(app, users, withdrawer):
    user_id, account_id = withdrawer(1000, verified=False)
    _, error = request_withdrawal(app, user_id, account_id, 100)
    assert "verified identity" in error
    user_id, account_id = withdrawer(1000, bound=False)
    _, error = request_withdrawal(app, user_id, account_id, 100)
    assert "Bind an Alipay account first" in error

    from portal.extensions import db
    from portal.orgs import services as orgs
    from portal.users.models import User

    owner_id, _ = withdrawer(0, persona="both")
    with app.app_context():
        org = orgs.create_organization(db.session.get(User, owner_id), f"org{owner_id}", "Org")
        org_account = orgs.org_account(org).id
    from .conftest import give

    give(app, org_account, 1000)
    _, error = request_withdrawal(app, owner_id, org_account, 100)
    assert "Organization balances cannot be withdrawn" in error
    assert balance(app, org_account) == 1000
    assert ledger_ok(app)


def test_a_rejection_releases_the_hold_with_its_reason(app, sandbox, withdrawer):
    user_id, account_id = withdrawer(10000)
    wid, _ = request_withdrawal(app, user_id, account_id, 2500)
    assert cli(app, "reject", str(wid)).exit_code != 0  # --reason is required
    result = cli(app, "reject", str(wid), "--reason", "收款账户信息待核实")
    assert result.exit_code == 0, result.output
    assert withdrawal(app, wid)["state"] == "rejected"
    assert withdrawal(app, wid)["reason"] == "收款账户信息待核实"
    assert balance(app, account_id) == 10000
    assert entries(app, account_id)[-2:] == [("withdrawal_hold", -2500), ("withdrawal_release", 2500)]
    approve = cli(app, "approve", str(wid))
    assert approve.exit_code != 0 and "rejected" in approve.output
    assert cli(app, "reject", str(wid), "--reason", "again").exit_code != 0
    assert entries(app, account_id)[-1] == ("withdrawal_release", 2500)
    assert transfers(sandbox, withdrawal(app, wid)["out_biz_no"]) == []
    assert ledger_ok(app)


def test_a_failed_payout_releases_the_hold_with_alipays_reason(app, sandbox, withdrawer):
    user_id, account_id = withdrawer(10000)
    wid, _ = request_withdrawal(app, user_id, account_id, 700)
    transfer_fault(sandbox, fail="PAYEE_NOT_EXIST")
    result = cli(app, "approve", str(wid))
    assert result.exit_code == 0 and "failed" in result.output
    row = withdrawal(app, wid)
    assert row["state"] == "failed" and row["channel_status"] == "PAYEE_NOT_EXIST"
    assert "PAYEE_NOT_EXIST" in row["reason"]
    assert balance(app, account_id) == 10000
    assert cli(app, "reconcile").exit_code == 0
    assert entries(app, account_id)[-2:] == [("withdrawal_hold", -700), ("withdrawal_release", 700)]
    assert ledger_ok(app)


@pytest.fixture
def portal_config(portal_config):
    # The lost-answer fault below answers after 3 s; the client gives up after 1.
    plugins = dict(portal_config["PLUGINS"])
    plugins["alipay_payout"] = {**plugins["alipay_payout"], "timeout_seconds": 1}
    return {**portal_config, "PLUGINS": plugins}


def test_a_lost_answer_is_settled_by_reconcile_and_paid_once(app, sandbox, withdrawer):
    user_id, account_id = withdrawer(10000)
    wid, _ = request_withdrawal(app, user_id, account_id, 4200)
    transfer_fault(sandbox, timeout=3)
    result = cli(app, "approve", str(wid))
    assert result.exit_code == 0 and "reconcile" in result.output
    assert withdrawal(app, wid)["state"] == "sending"
    settled = cli(app, "reconcile")
    assert settled.exit_code == 0 and "1 paid" in settled.output
    assert withdrawal(app, wid)["state"] == "succeeded"
    assert len(transfers(sandbox, withdrawal(app, wid)["out_biz_no"])) == 1
    assert entries(app, account_id) == [("adjustment", 10000), ("withdrawal_hold", -4200)]
    assert cli(app, "reconcile").output.startswith("Checked 0")
    assert ledger_ok(app)


def test_dealing_then_success(app, sandbox, withdrawer):
    user_id, account_id = withdrawer(10000)
    wid, _ = request_withdrawal(app, user_id, account_id, 100)
    transfer_fault(sandbox, dealing=1)
    cli(app, "approve", str(wid))
    assert withdrawal(app, wid)["state"] == "sending"
    assert withdrawal(app, wid)["channel_status"] == "DEALING"
    assert cli(app, "reconcile").exit_code == 0
    assert withdrawal(app, wid)["state"] == "sending"
    assert "1 paid" in cli(app, "reconcile").output
    assert withdrawal(app, wid)["state"] == "succeeded"
    assert balance(app, account_id) == 9900
    assert ledger_ok(app)


def test_auto_approval_under_the_configured_amount(app, sandbox, withdrawer):
    app.config["WITHDRAWAL_AUTO_APPROVE_MAX_FEN"] = 500
    user_id, account_id = withdrawer(10000)
    small, _ = request_withdrawal(app, user_id, account_id, 500)
    large, _ = request_withdrawal(app, user_id, account_id, 501)
    assert withdrawal(app, small)["state"] == "succeeded"
    assert withdrawal(app, large)["state"] == "pending"
    assert ledger_ok(app)


def test_alipay_refuses_the_same_out_biz_no_with_other_fields(app, sandbox, withdrawer):
    from portal.withdrawals.channels import PayoutError, TransferRequest, payout_channels

    user_id, account_id = withdrawer(10000)
    wid, _ = request_withdrawal(app, user_id, account_id, 100)
    cli(app, "approve", str(wid))
    number = withdrawal(app, wid)["out_biz_no"]
    with app.app_context():
        channel = payout_channels()["alipay"]
        same = TransferRequest(number, 100, "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5", "ALIPAY_OPEN_ID",
                               "Portal 提现")
        assert channel.transfer(same).state == "succeeded"
        with pytest.raises(PayoutError) as refused:
            channel.transfer(TransferRequest(number, 200, same.payee, same.payee_type, same.title))
        assert refused.value.code == "PARAM_ILLEGAL"
    assert len(transfers(sandbox, number)) == 1 and transfers(sandbox, number)[0]["amount"] == "1.00"


def test_concurrent_requests_never_hold_more_than_the_balance(app, withdrawer):
    import threading

    user_id, account_id = withdrawer(10000)
    results, barrier = [], threading.Barrier(4)

    def ask():
        barrier.wait()
        results.append(request_withdrawal(app, user_id, account_id, 3000))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = [wid for wid, error in results if error is None]
    assert len(held) == 3
    assert balance(app, account_id) == 1000
    assert ledger_ok(app)


def test_alipay_comes_as_a_payout_channel_through_the_hook(app):
    from portal.plugins import hook
    from portal.withdrawals.channels import payout_channels

    with app.app_context():
        offered = [c.name for channels in hook(app).portal_payout_channels() for c in channels]
        assert offered == ["alipay"]
        assert list(payout_channels()) == ["alipay"]


def test_two_requests_at_once_that_together_exceed_the_balance_hold_one(app, withdrawer):
    import threading

    user_id, account_id = withdrawer(10000)
    results, barrier = [], threading.Barrier(2)

    def ask():
        barrier.wait()
        results.append(request_withdrawal(app, user_id, account_id, 6000))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(error is None for _, error in results) == [False, True]
    assert "The balance is 40.00 yuan" in [error for _, error in results if error][0]
    assert balance(app, account_id) == 4000
    assert entries(app, account_id) == [("adjustment", 10000), ("withdrawal_hold", -6000)]
    assert ledger_ok(app)
