"""What a payment notification costs the database: one statement to find the order (with its account),
then the credit's own writes. Counted, not timed: a lookup that starts loading rows one by one again
shows up here before it shows up as a slower channel."""
from __future__ import annotations

import pytest

from tests.statements import recorded_statements

from .conftest import CHANNELS, balance, notify, out_trade_no, recharge

# SELECT the attempt with its order and account; UPDATE the order; UPDATE the balance; INSERT the
# ledger entry, the security-log event and the notification's record.
CREDIT_STATEMENTS = 6


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_credited_notification_finds_its_order_and_account_in_one_statement(app, sandbox, payer, channel):
    order_id = recharge(payer, "10", channel)
    number = out_trade_no(app, order_id)

    with recorded_statements(app) as statements:
        # The channel posts without cookies, as a stranger.
        answer = notify(app.test_client(), sandbox, channel, number, 1000)

    assert answer.status_code == 200
    assert balance(app, payer.account_id) == 1000
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) == 1, "\n".join(statements)
    assert len(statements) <= CREDIT_STATEMENTS, "\n".join(statements)
