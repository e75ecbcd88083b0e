"""Withdrawal tests: a verified user (manual review backend) with an Alipay account bound through the
sandbox's authorization, money in their personal balance through the ledger, and helpers to look at
the sandbox's transfers and the ledger."""
from __future__ import annotations

import itertools

import pytest
import requests

from portal_devkit.sandbox.providers import alipay as sandbox_alipay

CONTROL = "/_sandbox/alipay"
NAME = "张小三"
ID_NUMBERS = ("110101199003071233", "360426199101010071", "11010519491231002X")
_ids = itertools.count()


@pytest.fixture(autouse=True)
def ledger_stays_clean(app):
    """After every withdrawal test, ``portal ledger verify`` finds balances, refunds and withdrawals
    agreeing with the ledger."""
    yield
    result = app.test_cli_runner().invoke(args=["portal", "ledger", "verify"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "REALNAME_BACKEND": "realname_manual", "BABEL_DEFAULT_LOCALE": "en",
            "REALNAME_MAX_ACCOUNTS_PER_ID": 100}


def verify(app, user_id):
    from portal.extensions import db
    from portal.realname import services as realname
    from portal.users.models import User

    with app.test_request_context():
        user = db.session.get(User, user_id)
        attempt = realname.start(user, NAME, ID_NUMBERS[next(_ids) % len(ID_NUMBERS)], "http://localhost/")
        realname.decide(attempt, True, None)


def auth_code(sandbox, persona="openid", state="s"):
    """What the browser brings back from the sandbox's authorization page after choosing ``persona``."""
    answer = requests.post(sandbox.url + "/oauth2/publicAppAuthorize.htm", allow_redirects=False, timeout=10,
                           data={"app_id": sandbox_alipay.CERT_APP_ID, "redirect_uri": "http://localhost/cb",
                                 "state": state, "persona": persona})
    assert answer.status_code == 302, answer.text
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(answer.headers["Location"]).query)


def bind(app, sandbox, user_id, persona="openid"):
    from portal.extensions import db
    from portal.users.models import User
    from portal.withdrawals import binding

    args = {k: v[0] for k, v in auth_code(sandbox, persona).items()}
    with app.test_request_context():
        return binding.bind(db.session.get(User, user_id), "alipay", args).masked


def personal_account_id(app, user_id):
    from portal.accounts.access import personal_account
    from portal.extensions import db
    from portal.users.models import User

    with app.app_context():
        return personal_account(db.session.get(User, user_id)).id


def give(app, account_id, fen):
    from portal.billing import ledger
    from portal.extensions import db

    with app.app_context():
        ledger.credit(account_id, fen, "adjustment", reference="test money")
        db.session.commit()


@pytest.fixture
def withdrawer(app, users, sandbox):
    """``withdrawer(balance_fen=10000, persona="openid", verified=True, bound=True)`` -> (user id,
    account id) of a user ready to withdraw."""

    def make(balance_fen=10000, persona="openid", verified=True, bound=True):
        user_id = users.create()
        if verified:
            verify(app, user_id)
        if bound:
            bind(app, sandbox, user_id, persona)
        account_id = personal_account_id(app, user_id)
        if balance_fen:
            give(app, account_id, balance_fen)
        return user_id, account_id

    return make


def request_withdrawal(app, user_id, account_id, fen):
    """Returns (withdrawal id, None) or (None, the refusal's message)."""
    from portal.accounts.models import Account
    from portal.extensions import db
    from portal.users.models import User
    from portal.withdrawals import services

    with app.test_request_context():
        try:
            w = services.request_withdrawal(db.session.get(User, user_id), db.session.get(Account, account_id), fen)
        except services.WithdrawalError as exc:
            return None, exc.message
        return w.id, None


def withdrawal(app, withdrawal_id):
    from portal.extensions import db
    from portal.withdrawals.models import Withdrawal

    with app.app_context():
        w = db.session.get(Withdrawal, withdrawal_id)
        return {"state": w.state, "reason": w.reason, "out_biz_no": w.out_biz_no, "amount_fen": w.amount_fen,
                "channel_status": w.channel_status, "payee_type": w.payee_type}


def balance(app, account_id):
    from portal.billing import ledger

    with app.app_context():
        return ledger.balance_fen(account_id)


def entries(app, account_id):
    from portal.billing import ledger

    with app.app_context():
        return [(e.kind, e.amount_fen) for e in reversed(ledger.entries(account_id, limit=100))]


def transfers(sandbox, out_biz_no=None):
    params = {"out_biz_no": out_biz_no} if out_biz_no else {}
    return requests.get(sandbox.url + CONTROL + "/transfers", params=params, timeout=10).json()


def transfer_fault(sandbox, **fault):
    assert requests.post(sandbox.url + CONTROL + "/transfer-faults", json=fault, timeout=10).ok


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["portal", "withdrawals", *args])


def ledger_ok(app):
    result = app.test_cli_runner().invoke(args=["portal", "ledger", "verify"])
    return result.exit_code == 0
