"""Two real gunicorn instances on two ports, one PostgreSQL and one Redis (the tests' own): a person
moves between instances freely, limits are counted across both, a signed-out session dies on both,
duplicate payment notifications spread over both credit once, and a kill -9 of one instance while
notifications stream in loses nothing once the channel retries. Under gunicorn too, a hung Redis or
PostgreSQL gives fast answers and the workers survive."""
from __future__ import annotations

import re
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from .backends import wait_for
from .instances import Balancer, Instance

pytestmark = pytest.mark.xdist_group("own-servers")

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "correct horse battery staple"
EN = {"Accept-Language": "en"}
CONTROL = {"wechatpay": "/_sandbox/wxpay", "alipay": "/_sandbox/alipay"}


@pytest.fixture(scope="module")
def two_db(own_postgres):
    from portal.extensions import db

    import portal.models  # noqa: F401

    admin = sa.create_engine(own_postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS portal_two"))
        conn.execute(sa.text("CREATE DATABASE portal_two"))
    admin.dispose()
    url = own_postgres.url.rsplit("/", 1)[0] + "/portal_two"
    engine = sa.create_engine(url)
    db.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def redis_for_two():
    from .backends import RedisServer

    if not RedisServer.BINARY:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def cluster(two_db, redis_for_two, sandbox, tmp_path_factory):
    """Two instances, the balancer the channels notify, and an in-process app on the same database to
    look at the state (never to serve)."""
    import secrets

    from portal import create_app

    config = {
        "ENVIRONMENT": "testing",
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": two_db,
        "SESSION_COOKIE_SECURE": False,
        "PLUGINS": sandbox.plugin_settings(),
        "CSP_EXTRA_IMG_SOURCES": [sandbox.url],
        "RATELIMIT_STORAGE_URI": redis_for_two.url,
        "RECHARGE_START_LIMITS": "1000/minute",
        "RECHARGE_MAX_PENDING_ORDERS": 100,
    }
    instances = [Instance(config), Instance(config)]
    balancer = Balancer(instances)
    for instance in instances:
        instance.config["BILLING_NOTIFY_BASE_URL"] = balancer.url
        instance.config["PUBLIC_URL"] = balancer.url
        instance.start()
    looker = create_app(dict(config, BILLING_NOTIFY_BASE_URL=balancer.url),
                        instance_path=str(tmp_path_factory.mktemp("looker")))

    class Cluster:
        a, b = instances
        app = looker

    Cluster.balancer = balancer
    yield Cluster
    balancer.close()
    for instance in instances:
        instance.stop()
    from portal.extensions import db

    with looker.app_context():
        db.engine.dispose()


def _user(cluster, name=None):
    from portal_devkit.testing.plugin import Users

    name = name or f"u{uuid.uuid4().hex[:10]}"
    Users(cluster.app).create(name, email=f"{name}@example.com")
    return name


def _csrf(session, url):
    page = session.get(url, headers=EN, timeout=30)
    return CSRF.search(page.text).group(1)


def _submit(session, base, path, data, page=None):
    token = _csrf(session, base + (page or path))
    return session.post(base + path, data={**data, "csrf_token": token}, headers=EN, allow_redirects=False,
                        timeout=30)


def _sign_in(session, base, name, password=PASSWORD):
    return _submit(session, base, "/auth/sign-in", {"login": name, "password": password})


def test_sign_in_on_one_and_act_on_the_other(cluster):
    name = _user(cluster)
    person = requests.Session()
    assert _sign_in(person, cluster.a.url, name).status_code == 302
    profile = person.get(cluster.b.url + "/user/profile", headers=EN, timeout=30)
    assert profile.status_code == 200 and name in profile.text
    # A form served by one instance is accepted by the other.
    token = _csrf(person, cluster.a.url + "/billing/recharge")
    started = person.post(cluster.b.url + "/billing/recharge",
                          data={"amount": "1.00", "channel": "wechatpay", "csrf_token": token},
                          allow_redirects=False, timeout=30)
    assert started.status_code == 302 and "/billing/orders/" in started.headers["Location"]


def test_sign_in_limits_are_counted_across_both(cluster):
    name = _user(cluster)
    for attempt in range(5):
        instance = (cluster.a, cluster.b)[attempt % 2]
        wrong = _sign_in(requests.Session(), instance.url, name, "not the password")
        assert wrong.status_code == 400
    refused = _sign_in(requests.Session(), cluster.b.url, name)
    assert refused.status_code == 400 and "Too many attempts" in refused.text


def test_code_sends_are_counted_across_both(cluster, mailbox):
    name = _user(cluster)
    address = f"{name}@example.com"
    for instance in (cluster.a, cluster.b, cluster.a):
        answer = _submit(requests.Session(), instance.url, "/auth/forgot-password", {"contact": address})
        assert answer.status_code == 302
    # One code a minute per destination, whichever instance was asked.
    wait_for(lambda: mailbox.to(address), what="the code")
    assert len(mailbox.to(address)) == 1


def test_a_signed_out_session_is_refused_by_both_at_once(cluster):
    name = _user(cluster)
    person = requests.Session()
    assert _sign_in(person, cluster.a.url, name).status_code == 302
    copied = requests.Session()
    copied.cookies.update(person.cookies)
    for instance in (cluster.a, cluster.b):
        assert copied.get(instance.url + "/user/profile", allow_redirects=False, timeout=30).status_code == 200
    assert _submit(person, cluster.b.url, "/auth/sign-out", {}, page="/user/profile").status_code == 302
    for instance in (cluster.a, cluster.b):
        answer = copied.get(instance.url + "/user/profile", allow_redirects=False, timeout=30)
        assert answer.status_code == 302 and "/auth/sign-in" in answer.headers["Location"]


def _recharge(cluster, person, amount, channel="wechatpay"):
    from portal.billing.models import Order
    from portal.extensions import db

    answer = _submit(person, cluster.a.url, "/billing/recharge", {"amount": amount, "channel": channel})
    assert answer.status_code == 302, answer.text
    order_id = int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with cluster.app.app_context():
        order = db.session.get(Order, order_id)
        return order_id, order.account_id, order.attempts[-1].out_trade_no


def _pay(sandbox, channel, number, **faults):
    answer = requests.post(sandbox.url + CONTROL[channel] + "/pay", json={"out_trade_no": number, "faults": faults},
                           timeout=30)
    assert answer.status_code == 200, answer.text


def _state(cluster, order_id):
    from portal.billing.models import Order
    from portal.extensions import db

    with cluster.app.app_context():
        return db.session.get(Order, order_id).state


def _balance(cluster, account_id):
    from portal.billing import ledger

    with cluster.app.app_context():
        return ledger.balance_fen(account_id)


def _outcomes(cluster, order_id):
    from portal.billing.models import PaymentNotification
    from portal.extensions import db

    with cluster.app.app_context():
        return sorted(db.session.scalars(sa.select(PaymentNotification.outcome)
                                         .where(PaymentNotification.order_id == order_id)))


def _ledger_verifies(cluster):
    return cluster.app.test_cli_runner().invoke(args=["portal", "ledger", "verify"]).exit_code == 0


@pytest.fixture
def fast_notifications(sandbox):
    sandbox.app.config["NOTIFY_TIME_SCALE"] = 0.001
    yield
    sandbox.app.config.pop("NOTIFY_TIME_SCALE", None)


def test_fifty_duplicate_notifications_over_both_credit_once(cluster, sandbox, fast_notifications):
    person = requests.Session()
    assert _sign_in(person, cluster.a.url, _user(cluster)).status_code == 302
    order_id, account_id, number = _recharge(cluster, person, "12.34")
    before = list(cluster.balancer.forwarded)
    _pay(sandbox, "wechatpay", number, duplicate=50)
    wait_for(lambda: len(_outcomes(cluster, order_id)) >= 50, what="the 50 notifications to be recorded")
    assert _state(cluster, order_id) == "paid"
    assert _balance(cluster, account_id) == 1234
    outcomes = _outcomes(cluster, order_id)
    assert outcomes.count("credited") == 1 and set(outcomes) == {"credited", "duplicate"}
    spread = [now - then for now, then in zip(cluster.balancer.forwarded, before)]
    assert all(count >= 10 for count in spread), spread
    assert _ledger_verifies(cluster)


def test_kill_9_of_one_instance_while_notifications_stream_in_loses_nothing(cluster, sandbox, fast_notifications):
    person = requests.Session()
    assert _sign_in(person, cluster.a.url, _user(cluster)).status_code == 302
    orders = [_recharge(cluster, person, f"{n}.01") for n in range(1, 9)]
    account_id = orders[0][1]
    failed_before = cluster.balancer.failed[0]
    # The first half arrive while both instances run; then instance A dies mid-stream.
    for _order_id, _account, number in orders[:4]:
        _pay(sandbox, "wechatpay", number, duplicate=3)
    cluster.a.kill9()
    for _order_id, _account, number in orders[4:]:
        _pay(sandbox, "wechatpay", number, duplicate=3)
    try:
        wait_for(lambda: all(_state(cluster, order_id) == "paid" for order_id, _a, _n in orders), timeout=120,
                 what="every order to be paid through the surviving instance")
        assert cluster.balancer.failed[0] > failed_before  # some deliveries did hit the dead instance
        assert _balance(cluster, account_id) == sum(n * 100 + 1 for n in range(1, 9))
        for order_id, _a, _n in orders:
            assert _outcomes(cluster, order_id).count("credited") == 1
        assert _ledger_verifies(cluster)
    finally:
        cluster.a.start()


# The bound tells a hang from an answer: gunicorn kills a worker stuck for 30 s.
HANG = 30


def _timed_get(session, url):
    started = time.monotonic()
    answer = session.get(url, headers=EN, allow_redirects=False, timeout=HANG + 10)
    assert time.monotonic() - started < HANG, f"{url} hung"
    return answer


def test_a_hung_redis_under_gunicorn(cluster, redis_for_two):
    name = _user(cluster)
    workers = cluster.b.worker_pids()
    redis_for_two.pause()
    try:
        for _ in range(3):
            started = time.monotonic()
            assert _sign_in(requests.Session(), cluster.b.url, name).status_code == 302
            assert time.monotonic() - started < HANG
        assert _timed_get(requests.Session(), cluster.b.url + "/readyz").status_code == 503
    finally:
        redis_for_two.resume()
    wait_for(lambda: requests.get(cluster.b.url + "/readyz", timeout=30).status_code == 200, what="Redis back")
    assert cluster.b.worker_pids() == workers


def test_a_hung_database_under_gunicorn_gives_503s_and_the_workers_survive(cluster, own_postgres):
    name = _user(cluster)
    person = requests.Session()
    assert _sign_in(person, cluster.b.url, name).status_code == 302
    workers = cluster.b.worker_pids()
    own_postgres.pause()
    try:
        for _ in range(6):
            page = _timed_get(person, cluster.b.url + "/user/profile")
            assert page.status_code == 503 and "Temporarily unavailable" in page.text
        assert _timed_get(person, cluster.b.url + "/healthz").status_code == 200
        assert _timed_get(person, cluster.b.url + "/readyz").status_code == 503
    finally:
        own_postgres.resume()
    wait_for(lambda: person.get(cluster.b.url + "/user/profile", timeout=30).status_code == 200,
             what="pages to work again")
    assert cluster.b.worker_pids() == workers, "a worker was killed or restarted"
    assert "WORKER TIMEOUT" not in cluster.b.logged()
