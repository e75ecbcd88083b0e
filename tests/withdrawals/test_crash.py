"""A process killed between Alipay's answer and the commit: the withdrawal stays "sending", and
reconcile (same out_biz_no) finds the payout made. One payout at Alipay, one debit in the ledger."""
from __future__ import annotations

import json
import subprocess
import sys

from .conftest import balance, cli, entries, ledger_ok, request_withdrawal, transfers, withdrawal

APPROVE_THEN_DIE = """
import json, os, sys
from portal import create_app
from portal.withdrawals import services

app = create_app(json.load(open(sys.argv[1])), instance_path=sys.argv[2])

def die(*args, **kwargs):
    # Alipay has answered SUCCESS; the process dies before anything is committed about it.
    os._exit(9)

services.apply_result = die
with app.app_context():
    services.approve(int(sys.argv[3]), "ops")
"""


def test_a_crash_between_the_transfer_and_the_commit_pays_once(app, sandbox, withdrawer, portal_config, tmp_path):
    user_id, account_id = withdrawer(10000)
    wid, _ = request_withdrawal(app, user_id, account_id, 3300)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(portal_config))
    died = subprocess.run([sys.executable, "-c", APPROVE_THEN_DIE, str(config), str(tmp_path / "i"), str(wid)],
                          capture_output=True, text=True, timeout=120)
    assert died.returncode == 9, died.stderr[-2000:]
    number = withdrawal(app, wid)["out_biz_no"]
    assert withdrawal(app, wid)["state"] == "sending"
    assert [t["status"] for t in transfers(sandbox, number)] == ["SUCCESS"]

    result = cli(app, "reconcile")
    assert result.exit_code == 0 and "1 paid" in result.output, result.output
    assert withdrawal(app, wid)["state"] == "succeeded"
    assert len(transfers(sandbox, number)) == 1
    assert entries(app, account_id) == [("adjustment", 10000), ("withdrawal_hold", -3300)]
    assert balance(app, account_id) == 6700
    assert ledger_ok(app)
