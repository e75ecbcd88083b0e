"""Payment notifications per second, replayed pre-signed, then `ledger verify`.

Starts the provider sandbox here (its keys are generated now) and the portal under gunicorn
(--workers, --threads) on the given database, with the channel plugins pointed at the sandbox. It
opens N recharge orders with real charges at the channel and has the sandbox's buyer pay each one
with the ``hold`` fault: the sandbox renders and signs each notification and keeps it instead of
sending it. Only then does the timed part start: wrk replays the held notifications (each
--duplicates times), --concurrency at a time, at the portal's /billing/notify/<channel>, so the load
generator does no cryptography and the sandbox is not on the hot path. It prints notifications/s,
credits/s and latency percentiles, the same stack's rate for its readiness check (a request that reads
the database once) as the ratio's floor, and finally checks that every order was credited once and
that the ledger verifies. --profile K replays K more notifications in-process under cProfile and
prints where the time goes.

    python bench/notifications.py -n 2000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench

The database is a scratch one: its tables are created if missing, and nothing is deleted.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# wrk's Lua: each thread sends its share of the file (one request a line: method, path, headers,
# body, tab-separated) once; a connection with nothing left to send asks for the health check
# instead (answered {"status": ...}, not counted), until the thread's share is answered. wrk
# runs for its -d duration whatever the threads do: the bench stops it with SIGINT.
REPLAY_LUA = """
local counter = 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args)
  local threads = tonumber(args[2]); requests = {}; answered = 0; sent = 0
  filler = wrk.format("GET", "/healthz")
  local i = 0
  for line in io.lines(args[1]) do
    if i % threads == id then
      local fields = {}
      for field in (line .. "\\t"):gmatch("([^\\t]*)\\t") do table.insert(fields, field) end
      local headers = {}
      for k = 3, #fields - 1, 2 do headers[fields[k]] = fields[k + 1] end
      table.insert(requests, wrk.format("POST", fields[2], headers, fields[#fields]))
    end
    i = i + 1
  end
  -- wrk asks thread 0 for one request before the run, to check it: give it the filler.
  real = #requests
  if id == 0 then table.insert(requests, 1, filler) end
end
function request()
  sent = sent + 1
  if sent > #requests then return filler end
  return requests[sent]
end
function response(status, headers, body)
  if not string.find(body, '"status"', 1, true) then answered = answered + 1 end
  if answered >= real then wrk.thread:stop() end
end
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--notifications", type=int, default=1000, help="orders to pay (default 1000)")
    parser.add_argument("--database-url", default=os.environ.get(
        "PORTAL_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"))
    parser.add_argument("--channel", choices=("wechatpay", "alipay"), default="wechatpay")
    parser.add_argument("--concurrency", type=int, default=8, help="notifications in flight (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--duplicates", type=int, default=1,
                        help="identical copies of each notification, sent back to back (default 1)")
    parser.add_argument("--amount-fen", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=200,
                        help="accounts the orders are spread over (one account serializes its credits)")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="replay K more notifications in-process under cProfile (default 0)")
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


def start_portal(config: dict, port: int, args) -> subprocess.Popen:
    import requests

    env = dict(os.environ)
    for key, value in config.items():
        env[f"PORTAL_{key}"] = value if isinstance(value, str) else json.dumps(value)
    # Its log goes to a file: a pipe nobody reads fills up and stalls the server.
    log = tempfile.NamedTemporaryFile("w+b", prefix="portal-bench-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--threads", str(args.threads),
         "--bind", f"127.0.0.1:{port}", "portal.wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the portal did not start:\n{log.read().decode()[-4000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/auth/sign-in", timeout=30)
            return process
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the portal did not answer within 60 s")


def main() -> int:
    args = parse_args()
    os.environ["TZ"] = "Asia/Shanghai"  # the Alipay SDK stamps requests with naive local time
    time.tzset()
    import sqlalchemy as sa

    from portal import create_app
    from portal_devkit.sandbox import Sandbox

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandbox's request log drowns the figures
    sandbox = Sandbox().start()
    port = free_port()
    portal_url = f"http://127.0.0.1:{port}"
    config = {
        "ENVIRONMENT": "development",
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": args.database_url,
        "PLUGINS": sandbox.plugin_settings(),
        "BILLING_NOTIFY_BASE_URL": portal_url,
        # Many unpaid orders per account, opened at once: the point of the run.
        "RECHARGE_MAX_PENDING_ORDERS": args.notifications + args.profile,
        "RECHARGE_START_LIMITS": f"{args.notifications + args.profile}/minute",
        "RATELIMIT_ENABLED": False,
    }
    ensure_database(args.database_url)
    app = create_app(config)
    with app.app_context():
        import portal.models  # noqa: F401 - every table
        from portal.extensions import db

        db.create_all()
    portal = start_portal(config, port, args)
    try:
        order_ids = open_orders(app, args, args.notifications + args.profile)
        held = hold_all(app, sandbox, args, order_ids)
        timed, profiled = held[:args.notifications], held[args.notifications:]
        print(f"{len(order_ids)} orders opened and paid at {args.channel}; their notifications signed "
              f"and held; replaying {len(timed)} x {args.duplicates} with {args.concurrency} in flight, "
              f"gunicorn {args.workers} workers x {args.threads} threads")
        replay = wrk_replay(app, portal_url, timed, order_ids[:args.notifications], args)
        floor = wrk_get(f"{portal_url}/readyz", args.concurrency)
        if profiled:  # signed minutes ago, still within the channel's freshness window
            profile(app, profiled)
    finally:
        portal.terminate()
        portal.wait(timeout=30)
        sandbox.stop()

    sent = args.notifications * args.duplicates
    print(f"{sent} notifications in {replay['seconds']:.2f} s: {sent / replay['seconds']:.0f} notifications/s, "
          f"{args.notifications / replay['seconds']:.0f} credits/s; latency p50 {replay['p50']:.1f} ms, "
          f"p90 {replay['p90']:.1f} ms, p99 {replay['p99']:.1f} ms; errors {replay['errors']}")
    print(f"floor, GET /readyz (one SELECT 1) on the same server: {floor['rps']:.0f} requests/s, p50 {floor['p50']:.1f} ms; "
          f"a notification costs {floor['rps'] / (sent / replay['seconds']):.1f}x a readiness check")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wrk and the portal share them)")
    with app.app_context():
        from portal.billing import ledger
        from portal.billing.models import Order, PaymentNotification

        outcomes = dict(db.session.execute(
            sa.select(PaymentNotification.outcome, sa.func.count())
            .where(PaymentNotification.order_id.in_(order_ids))
            .group_by(PaymentNotification.outcome)
        ).all())
        paid = db.session.scalar(sa.select(sa.func.count()).select_from(Order)
                                 .where(Order.id.in_(order_ids), Order.state == "paid"))
        print(f"notification outcomes: {outcomes}; orders paid: {paid} of {len(order_ids)}")
        found = ledger.verify()
    if found or paid != len(order_ids):
        print(f"ledger verify: MISMATCH in {len(found)} account(s): {found[:5]}")
        return 1
    print("ledger verify: ok, every balance equals the sum of its entries")
    return 0


def open_orders(app, args, count: int) -> list[int]:
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
            # notify_url: under BILLING_NOTIFY_BASE_URL, this run's portal.
            return orders.start_recharge(account_ids[n % len(account_ids)], channel, args.amount_fen).id

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(open_one, range(count)))


def hold_all(app, sandbox, args, order_ids) -> list[tuple[str, dict, bytes]]:
    """Pay every order at the sandbox with the ``hold`` fault; its signed notifications, in order."""
    import sqlalchemy as sa

    from portal.billing.models import OrderAttempt
    from portal.extensions import db
    from portal_devkit.sandbox.notify import Faults
    from portal_devkit.sandbox.providers import alipay_buyer, wechatpay_buyer

    with app.app_context():
        numbers = dict(db.session.execute(
            sa.select(OrderAttempt.order_id, OrderAttempt.out_trade_no).where(OrderAttempt.order_id.in_(order_ids))
        ).all())
    buyer = {"wechatpay": wechatpay_buyer, "alipay": alipay_buyer}[args.channel]
    for order_id in order_ids:
        buyer.pay(sandbox, numbers[order_id], faults=Faults(hold=True))
    held = sandbox.state[args.channel]["notifier"].held
    deadline = time.monotonic() + 120
    while len(held) < len(order_ids):  # each is signed on a thread of its own
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(held)} of {len(order_ids)} notifications were signed")
        time.sleep(0.05)
    return [held[numbers[order_id]] for order_id in order_ids]


def wrk_replay(app, portal_url: str, notifications, order_ids, args) -> dict:
    """Replay with wrk until every order is paid (wrk runs for its -d duration otherwise), then stop
    it with SIGINT, on which it prints its figures; the time is from its start to the last credit."""
    import signal

    import sqlalchemy as sa

    from portal.billing.models import Order
    from portal.extensions import db

    scratch = Path(tempfile.mkdtemp(prefix="portal-bench-replay-"))
    lines = []
    for url, headers, body in notifications:
        path = "/" + url.split("/", 3)[3]
        fields = ["POST", path] + [part for name, value in headers.items() for part in (name, value)]
        line = "\t".join(fields + [body.decode()])
        assert "\n" not in line and line.count("\t") == len(fields), "a notification with a tab or newline"
        lines.extend([line] * args.duplicates)
    (scratch / "requests.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (scratch / "replay.lua").write_text(REPLAY_LUA, encoding="utf-8")
    threads = min(2, args.concurrency)
    output = scratch / "wrk.out"
    started = time.perf_counter()
    wrk = subprocess.Popen(
        ["wrk", "-t", str(threads), "-c", str(args.concurrency), "-d", "600s", "--latency", "--timeout", "30s",
         "-s", str(scratch / "replay.lua"), portal_url, "--", str(scratch / "requests.tsv"), str(threads)],
        stdout=output.open("w"), stderr=subprocess.STDOUT)
    with app.app_context():
        while True:
            paid = db.session.scalar(sa.select(sa.func.count()).select_from(Order)
                                     .where(Order.id.in_(order_ids), Order.state == "paid"))
            db.session.rollback()
            if paid == len(order_ids):
                seconds = time.perf_counter() - started
                break
            if wrk.poll() is not None:
                raise SystemExit(f"wrk stopped with {paid} of {len(order_ids)} orders paid:\n{output.read_text()}")
            time.sleep(0.02)
    wrk.send_signal(signal.SIGINT)
    wrk.wait(timeout=60)
    text = output.read_text()
    return {"seconds": seconds, **latencies(text),
            "errors": int((re.search(r"Non-2xx or 3xx responses: (\d+)", text) or [0, 0])[1])}


def wrk_get(url: str, connections: int) -> dict:
    output = subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", "5s",
                             "--latency", url], capture_output=True, text=True, check=True).stdout
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), **latencies(output)}


def latencies(output: str) -> dict:
    found = {}
    for percent in (50, 90, 99):
        value, unit = re.search(rf"{percent}%\s+([\d.]+)(us|ms|s)", output).groups()
        found[f"p{percent}"] = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return found


def profile(app, notifications) -> None:
    """Where a notification's time goes in the portal (in-process, one at a time)."""
    client = app.test_client()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for url, headers, body in notifications:
        client.post("/" + url.split("/", 3)[3], headers=headers, data=body)
    profiler.disable()
    each = (time.perf_counter() - started) / len(notifications) * 1000
    print(f"profile: {len(notifications)} notifications in-process, {each:.1f} ms each (under cProfile)")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(r"portal|sqlalchemy/orm/session|psycopg|cryptography", 25)


if __name__ == "__main__":
    sys.exit(main())
