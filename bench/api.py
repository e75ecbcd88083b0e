"""Latency of the API beside a web page, under gunicorn: p50/p99 of GET /api/v1/accounts and POST
/api/v1/accounts/{id}/usage, and of the emails page (/user/emails), at --concurrency clients.

For each database (a scratch SQLite file, then PostgreSQL at --postgres-url unless --no-postgres),
it creates the schema, a user with an API key (usage scope) and a trial plan large enough never to
run out, starts gunicorn (gthread, --workers x --threads) on a free port, signs in once for the
page, and sends --requests requests per endpoint from --concurrency threads after a warm-up. Each
usage call reserves one container with a fresh Idempotency-Key. The figures are for this machine
(client, server and database share its cores): read them as ratios to the emails page of the
same run.

    python bench/api.py --requests 400 --concurrency 8
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="timed requests per endpoint (default 400)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "PORTAL_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_api"),
        help="a scratch PostgreSQL database (created if missing, its tables emptied)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(url: str) -> None:
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    if target.get_backend_name() != "postgresql":
        return
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def settings(database_url: str, port: int) -> dict:
    return {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SESSION_COOKIE_SECURE": False,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PLUGINS_ENABLED": [],
        "PLANS": {"trial": {"quotas": {"containers": 10**9}}},
        # Counted as in production (per worker, in memory), but never reached.
        "API_RATE_LIMIT": "1000000/minute",
    }


def prepare(config: dict) -> tuple[str, int, str]:
    """Schema, a user and an API key; returns (username, account id, key)."""
    from portal import create_app
    from portal.accounts.access import personal_account
    from portal.apikeys import services as keys
    from portal.extensions import db
    from portal.users import services as users

    import portal.models  # noqa: F401

    app = create_app(config, instance_path=tempfile.mkdtemp())
    with app.app_context():
        db.create_all()
        user = users.register_user(f"bench{secrets.randbelow(10**6)}", f"b{secrets.token_hex(4)}@example.com",
                                   PASSWORD)
        users.mark_email_verified(user.primary_email)
        _key, secret = keys.create_key(user, "bench", ["usage"], 90)
        result = user.username, personal_account(user).id, secret
        db.engine.dispose()
    return result


def start_gunicorn(config: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    env = dict(os.environ)
    for key, value in config.items():
        env[f"PORTAL_{key}"] = value if isinstance(value, str) else json.dumps(value)
    log = tempfile.NamedTemporaryFile("w+b", prefix="portal-bench-api-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
         "--workers", str(workers), "--threads", str(threads), "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited; its log is {log.name}")
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10)
            return process
        except requests.RequestException:  # not listening yet, or still importing the app
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"gunicorn did not answer within 120 s; its log is {log.name}")


def signed_in_cookies(base: str, username: str) -> dict:
    session = requests.Session()
    token = CSRF.search(session.get(f"{base}/auth/sign-in", timeout=10).text).group(1)
    answer = session.post(f"{base}/auth/sign-in", data={"login": username, "password": PASSWORD,
                                                        "csrf_token": token}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.status_code
    return session.cookies.get_dict()


def measure(count: int, concurrency: int, call) -> tuple[list[float], float]:
    """``count`` calls of ``call(session)`` over ``concurrency`` threads: latencies (ms), and wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = iter(range(count))

    def run():
        session = requests.Session()
        mine = []
        while True:
            with lock:
                if next(remaining, None) is None:
                    break
            started = time.perf_counter()
            call(session)
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bench_database(name: str, database_url: str, args) -> dict[str, tuple[float, float, float]]:
    fresh_database(database_url)
    port = free_port()
    config = settings(database_url, port)
    username, account_id, key = prepare(config)
    process = start_gunicorn(config, port, args.workers, args.threads)
    base = f"http://127.0.0.1:{port}"
    try:
        cookies = signed_in_cookies(base, username)
        auth = {"Authorization": f"Bearer {key}"}

        def accounts(session):
            response = session.get(f"{base}/api/v1/accounts", headers=auth, timeout=30)
            assert response.status_code == 200, response.text

        def usage(session):
            response = session.post(f"{base}/api/v1/accounts/{account_id}/usage", timeout=30, json={
                "resource": "containers", "delta": 1}, headers={**auth, "Idempotency-Key": uuid.uuid4().hex})
            assert response.status_code == 200, response.text

        def emails(session):
            response = session.get(f"{base}/user/emails", cookies=cookies, allow_redirects=False, timeout=30)
            assert response.status_code == 200, response.status_code

        results = {}
        for label, call in (("GET /api/v1/accounts", accounts), ("POST /api/v1/accounts/{id}/usage", usage),
                            ("GET /user/emails (page)", emails)):
            measure(min(40, args.requests), args.concurrency, call)  # warm-up: connections, caches
            latencies, wall = measure(args.requests, args.concurrency, call)
            results[label] = (statistics.median(latencies), percentile(latencies, 0.99), len(latencies) / wall)
        return results
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    args = parse_args()
    # The bench's key announces itself to an owner with no mail plugin: not a result.
    logging.getLogger("portal.notices").setLevel(logging.ERROR)
    databases = [("sqlite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")]
    if not args.no_postgres:
        databases.append(("postgresql", args.postgres_url))
    print(f"gunicorn gthread {args.workers} workers x {args.threads} threads; {args.concurrency} concurrent "
          f"clients; {args.requests} requests per endpoint; {os.cpu_count()} CPUs shared by client, server and "
          f"database")
    print(f"{'database':<11} {'endpoint':<34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'p50 / page':>11}")
    for name, url in databases:
        results = bench_database(name, url, args)
        page_p50 = results["GET /user/emails (page)"][0]
        for label, (p50, p99, rate) in results.items():
            print(f"{name:<11} {label:<34} {p50:8.1f} {p99:8.1f} {rate:8.0f} {p50 / page_p50:10.2f}x")


if __name__ == "__main__":
    main()
