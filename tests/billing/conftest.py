"""What the money tests share: accounts to put money in (made through the accounts service), the
portal on a real server for the sandbox to notify, and helpers to recharge, pay and look."""
from __future__ import annotations

import itertools
import json
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import requests

CONTROL = {"wechatpay": "/_sandbox/wxpay", "alipay": "/_sandbox/alipay"}
CHANNELS = ("wechatpay", "alipay")
ZH = {"Accept-Language": "zh-CN"}

_numbers = itertools.count(1)


def wait_until(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def recharge(client, amount="12.34", channel="wechatpay"):
    response = client.submit("/billing/recharge", {"amount": amount, "channel": channel})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def order_row(app, order_id):
    from portal.billing.models import Order
    from portal.extensions import db

    with app.app_context():
        order = db.session.get(Order, order_id)
        return {
            "state": order.state,
            "out_trade_nos": [a.out_trade_no for a in order.attempts],
            "account_id": order.account_id,
        }


def out_trade_no(app, order_id):
    return order_row(app, order_id)["out_trade_nos"][-1]


def sandbox_pay(sandbox, channel, number, **faults):
    response = requests.post(sandbox.url + CONTROL[channel] + "/pay",
                             json={"out_trade_no": number, "faults": faults}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def delivered(sandbox, channel, number):
    response = requests.get(sandbox.url + CONTROL[channel] + "/notifications",
                            params={"out_trade_no": number}, timeout=10)
    return [entry for entry in response.json() if not entry["dropped"]]


def balance(app, account_id):
    from portal.billing import ledger

    with app.app_context():
        return ledger.balance_fen(account_id)


def outcomes(app, order_id=None):
    import sqlalchemy as sa

    from portal.billing.models import PaymentNotification
    from portal.extensions import db

    with app.app_context():
        query = sa.select(PaymentNotification.outcome)
        if order_id is not None:
            query = query.where(PaymentNotification.order_id == order_id)
        return sorted(db.session.scalars(query))


PAID_STATE = {"wechatpay": "SUCCESS", "alipay": "TRADE_SUCCESS"}


def signed_notification(sandbox, channel, number, amount_fen, state, transaction_id=None):
    """A notification about order ``number`` in trade state ``state``, validly signed by the
    sandbox's channel: (headers, body). A paid state carries ``transaction_id`` (default: a new one)."""
    transaction_id = transaction_id or "4200" + secrets.token_hex(8)
    if channel == "alipay":
        from portal_devkit.sandbox.providers import alipay

        fields = {
            "notify_time": alipay.china_time(sandbox.now()), "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16), "app_id": alipay.APP_ID, "charset": "utf-8",
            "version": "1.0", "trade_no": transaction_id, "out_trade_no": number,
            "trade_status": state, "total_amount": alipay.yuan(amount_fen), "seller_id": alipay.SELLER_ID,
        }
        if state == PAID_STATE[channel]:
            fields["gmt_payment"] = alipay.china_time(sandbox.now())
        body = urlencode(alipay.sign_notification(sandbox, fields)).encode()
        return {"Content-Type": "application/x-www-form-urlencoded"}, body
    from portal_devkit.sandbox.providers import wechatpay, wechatpay_buyer

    transaction = {"appid": wechatpay.APPID, "mchid": wechatpay.MCHID, "out_trade_no": number,
                   "trade_state": state, "amount": {"total": amount_fen, "currency": "CNY"}}
    if state == PAID_STATE[channel]:
        transaction.update(transaction_id=transaction_id, trade_type="NATIVE", bank_type="OTHERS",
                           success_time=wechatpay.rfc3339(sandbox.now()),
                           payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
        transaction["amount"].update(payer_total=amount_fen, payer_currency="CNY")
    body = json.dumps(wechatpay_buyer.encrypted_envelope(sandbox, json.dumps(transaction)))
    return wechatpay_buyer.sign_body(sandbox, body), body.encode()


def notify(client, sandbox, channel, number, amount_fen, transaction_id=None, state=None):
    """Deliver a signed notification to the portal's endpoint for ``channel`` (a payment unless
    ``state`` says otherwise); returns the portal's answer."""
    headers, body = signed_notification(sandbox, channel, number, amount_fen, state or PAID_STATE[channel],
                                        transaction_id)
    return client.post(f"/billing/notify/{channel}", data=body, headers=headers)


def accepted(channel, answer) -> bool:
    """Whether ``answer`` tells ``channel`` to stop resending, in that channel's protocol."""
    if channel == "alipay":
        assert answer.status_code in (200, 500)
        return answer.get_data(as_text=True) == "success"
    return answer.status_code == 200 and answer.json["code"] == "SUCCESS"


def ledger_ok(runner):
    result = runner.invoke(args=["portal", "ledger", "verify"])
    return result.exit_code == 0


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def clock(monkeypatch):
    """Moves the portal's clock forward: ``clock.advance(timedelta(days=1))``."""
    from portal import timeutil

    real = timeutil.utcnow

    class Clock:
        offset = timedelta()

        def advance(self, delta):
            self.offset += delta

    moved = Clock()
    monkeypatch.setattr(timeutil, "utcnow", lambda: real() + moved.offset)
    return moved


@pytest.fixture
def make_account(app):
    """``make_account(balance_fen=0)`` -> the id of a new personal account (balance via the ledger)."""
    from portal.accounts.services import open_personal_account
    from portal.billing import ledger
    from portal.extensions import db
    from portal.users.models import User

    def make(balance_fen: int = 0) -> int:
        n = next(_numbers)
        with app.app_context():
            user = User(username=f"payer{n}", username_key=f"payer{n}")
            db.session.add(user)
            account = open_personal_account(user)
            db.session.flush()
            if balance_fen:
                ledger.credit(account.id, balance_fen, "adjustment", reference="opening balance")
            db.session.commit()
            return account.id

    return make


@pytest.fixture
def live_portal(app):
    """The app on a real HTTP server, so the sandbox's channels can deliver notifications to it."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BILLING_NOTIFY_BASE_URL"] = url
    # What the factory derives from a BILLING_NOTIFY_BASE_URL given at startup: its host is allowed.
    app.config["TRUSTED_HOSTS"] = [*app.config["TRUSTED_HOSTS"], "127.0.0.1"]
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="portal-http")
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def fast_notifications(sandbox):
    """The channels' retry schedules, a thousand times faster."""
    sandbox.app.config["NOTIFY_TIME_SCALE"] = 0.001
    yield
    sandbox.app.config.pop("NOTIFY_TIME_SCALE", None)
    sandbox.clock_offset = 0


@pytest.fixture
def payer(app, users):
    """A signed-in client and the id of its personal account."""
    from portal.accounts.access import personal_account
    from portal.users.models import User
    from portal.extensions import db

    client, user_id = users.signed_in_client()
    with app.app_context():
        account_id = personal_account(db.session.get(User, user_id)).id
    client.account_id = account_id
    return client


@pytest.fixture
def org_member(app, users):
    """``org_member(role)`` -> (a signed-in client of a ``role`` member whose current account is a new
    organization's, that account's id)."""

    def make(role):
        from portal.extensions import db
        from portal.orgs import invitations
        from portal.orgs import services as orgs
        from portal.users.models import User

        owner_id = users.create()
        client, member_id = users.signed_in_client()
        with app.app_context():
            owner, member = db.session.get(User, owner_id), db.session.get(User, member_id)
            org = orgs.create_organization(owner, f"org{owner_id}", f"Org {owner_id}")
            invitation = invitations.invite(org, owner, member.username, role)
            invitations.accept_invitation(invitation.id, member)
            account_id = orgs.org_account(org).id
        with client.session_transaction() as session:
            session["account_id"] = account_id
        return client, account_id

    return make
