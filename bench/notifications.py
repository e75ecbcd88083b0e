"""Payment notifications per second, end to end, then `ledger verify`.

Starts the provider sandbox here (its keys are generated now), runs the portal in a child process
(`flask run --with-threads`) on the given database with the channel plugins pointed at the sandbox,
opens N recharge orders with real charges at the channel, then has the sandbox's buyer pay them,
--concurrency at a time: the sandbox signs each notification and delivers it to the portal's
/billing/notify/<channel>. It measures from the first payment until every order is paid, and
finally checks the ledger. The portal runs on Werkzeug's threaded server, on the same machine as
the sandbox and this script: the figure is a floor, not a production capacity.

    python bench/notifications.py -n 1000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench

The database is a scratch one: its tables are created if missing, and nothing is deleted.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTROL = {"wechatpay": "/_sandbox/wxpay", "alipay": "/_sandbox/alipay"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--notifications", type=int, default=500, help="orders to pay (default 500)")
    parser.add_argument("--database-url", default=os.environ.get(
        "PORTAL_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"))
    parser.add_argument("--channel", choices=sorted(CONTROL), default="wechatpay")
    parser.add_argument("--concurrency", type=int, default=16, help="payments started at once (default 16)")
    parser.add_argument("--duplicates", type=int, default=1,
                        help="identical copies of each notification, sent concurrently (default 1)")
    parser.add_argument("--amount-fen", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=20,
                        help="accounts the orders are spread over (one account serializes its credits)")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_database(url: str) -> None:
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    if target.get_backend_name() == "postgresql":
        admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": target.database}).first():
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()


def start_portal(config: dict, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    for key, value in config.items():
        env[f"PORTAL_{key}"] = value if isinstance(value, str) else json.dumps(value)
    # Its request log goes to a file: a pipe nobody reads fills up and stalls the server.
    log = tempfile.NamedTemporaryFile("w+b", prefix="portal-bench-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal:create_app", "run", "--with-threads",
         "--no-reload", "--no-debugger", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    import requests

    for _ in range(200):
        if process.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the portal did not start:\n{log.read().decode()[-4000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/auth/sign-in", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the portal did not answer within 20 s")


def main() -> int:
    args = parse_args()
    os.environ["TZ"] = "Asia/Shanghai"  # the Alipay SDK stamps requests with naive local time
    time.tzset()
    import sqlalchemy as sa

    from portal import create_app
    from portal_devkit.sandbox import Sandbox

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the figures
    sandbox = Sandbox().start()
    sandbox.app.config["NOTIFY_TIME_SCALE"] = 0.01
    port = free_port()
    portal_url = f"http://127.0.0.1:{port}"
    config = {
        "ENVIRONMENT": "development",
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": args.database_url,
        "PLUGINS": sandbox.plugin_settings(),
        "BILLING_NOTIFY_BASE_URL": portal_url,
        # Many unpaid orders per account, opened at once: the point of the run.
        "RECHARGE_MAX_PENDING_ORDERS": args.notifications,
        "RECHARGE_START_LIMITS": f"{args.notifications}/minute",
    }
    ensure_database(args.database_url)
    app = create_app(config)
    with app.app_context():
        import portal.models  # noqa: F401 - every table
        from portal.extensions import db

        db.create_all()
    portal = start_portal(config, port)
    try:
        order_ids = open_orders(app, args, portal_url)
        print(f"{len(order_ids)} orders opened at {args.channel}; paying them "
              f"({args.concurrency} at once, {args.duplicates} notification copies each)")
        elapsed = pay_all(app, sandbox, args, order_ids)
        refused = [e for e in sandbox.state[args.channel]["notifier"].entries() if not e["accepted"]]
        if refused:
            sample = {(e["status"], (e["error"] or e["response"])[:120]) for e in refused[:50]}
            print(f"{len(refused)} deliveries were not acknowledged (the sandbox retried them): {sample}")
    finally:
        portal.terminate()
        portal.wait(timeout=10)
        sandbox.stop()

    sent = args.notifications * args.duplicates
    print(f"{sent} notifications, {args.notifications} orders paid in {elapsed:.2f} s: "
          f"{sent / elapsed:.0f} notifications/s, {args.notifications / elapsed:.0f} credits/s")
    with app.app_context():
        from portal.billing import ledger
        from portal.billing.models import PaymentNotification

        outcomes = dict(db.session.execute(
            sa.select(PaymentNotification.outcome, sa.func.count())
            .where(PaymentNotification.order_id.in_(order_ids))
            .group_by(PaymentNotification.outcome)
        ).all())
        print(f"notification outcomes: {outcomes}")
        found = ledger.verify()
    if found:
        print(f"ledger verify: MISMATCH in {len(found)} account(s): {found[:5]}")
        return 1
    print("ledger verify: ok, every balance equals the sum of its entries")
    return 0


def open_orders(app, args, portal_url) -> list[int]:
    from portal.accounts.services import open_personal_account
    from portal.billing import orders
    from portal.billing.channels import payment_channels
    from portal.extensions import db
    from portal.users.models import User

    account_ids = []
    with app.app_context():
        for _ in range(args.accounts):
            name = f"bench{secrets.token_hex(4)}"
            user = User(username=name, username_key=name)
            db.session.add(user)
            account = open_personal_account(user)
            db.session.commit()
            account_ids.append(account.id)
    def open_one(n):
        with app.app_context():
            channel = payment_channels()[args.channel]
            account_id = account_ids[n % len(account_ids)]
            # notify_url: under BILLING_NOTIFY_BASE_URL, this run's portal.
            order = orders.start_recharge(account_id, channel, args.amount_fen)
            return order.id

    with ThreadPoolExecutor(args.concurrency) as pool:
        return list(pool.map(open_one, range(args.notifications)))


def pay_all(app, sandbox, args, order_ids) -> float:
    import requests
    import sqlalchemy as sa

    from portal.billing.models import Order, OrderAttempt
    from portal.extensions import db

    with app.app_context():
        numbers = list(db.session.scalars(
            sa.select(OrderAttempt.out_trade_no).where(OrderAttempt.order_id.in_(order_ids))
        ))
    faults = {"duplicate": args.duplicates} if args.duplicates > 1 else {}
    session = requests.Session()

    notifier = sandbox.state[args.channel]["notifier"]

    def pay(number):
        # Closed loop: each worker waits until its notification was acknowledged, so at most
        # --concurrency notifications (times --duplicates) are in flight, as with real traffic
        # spread over time; otherwise the sandbox fires every one at once and measures a queue.
        response = session.post(f"{sandbox.url}{CONTROL[args.channel]}/pay",
                                json={"out_trade_no": number, "faults": faults}, timeout=30)
        response.raise_for_status()
        deadline = time.perf_counter() + 60
        while not any(e["accepted"] for e in notifier.entries(number)) and time.perf_counter() < deadline:
            time.sleep(0.01)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(pay, numbers))
    with app.app_context():
        while True:
            paid = db.session.scalar(
                sa.select(sa.func.count()).select_from(Order)
                .where(Order.id.in_(order_ids), Order.state == "paid")
            )
            db.session.rollback()
            if paid == len(order_ids):
                return time.perf_counter() - started
            if time.perf_counter() - started > 600:
                raise SystemExit(f"only {paid} of {len(order_ids)} orders were paid after 600 s")
            time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
