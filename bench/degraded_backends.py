"""What a request costs while Redis or PostgreSQL is hung (SIGSTOP), next to the same request on
healthy backends, and how long the portal takes to recover once they resume.

It starts a Redis and a PostgreSQL of its own on free ports (never the shared ones), one gunicorn
instance (gthread, --workers x 4 threads) with the production defaults of the timeouts, and a user.
Then, for each phase: a signed-in page (GET /user/profile, the database) and a sign-in (POST, the
rate limits in Redis and the database), timed one after the other. Figures are for this machine: read
the ratios to the healthy request of the same run.

    python bench/degraded_backends.py --samples 10
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.operations.backends import PostgresServer, RedisServer, wait_for  # noqa: E402
from tests.operations.instances import Instance  # noqa: E402
from tests.operations.test_two_instances import CSRF, EN, PASSWORD  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10, help="timed requests per phase (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    return parser.parse_args()


def prepare(pg: PostgresServer) -> tuple[str, str]:
    from portal import create_app
    from portal.extensions import db
    from portal.users import services as users

    import portal.models  # noqa: F401

    admin = sa.create_engine(pg.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE portal_bench"))
    admin.dispose()
    url = pg.url.rsplit("/", 1)[0] + "/portal_bench"
    app = create_app({"ENVIRONMENT": "testing", "SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": url,
                      "PUBLIC_URL": "http://127.0.0.1", "PLUGINS_ENABLED": []}, instance_path=tempfile.mkdtemp())
    with app.app_context():
        db.create_all()
        user = users.register_user("bench", "bench@example.com", PASSWORD)
        users.mark_email_verified(user.primary_email)
        db.engine.dispose()
    return url, "bench"


def sign_in(base: str, name: str) -> requests.Session:
    session = requests.Session()
    token = CSRF.search(session.get(base + "/auth/sign-in", timeout=60).text).group(1)
    answer = session.post(base + "/auth/sign-in", data={"login": name, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False, timeout=60)
    answer.raise_for_status()
    return session


def timed(call) -> tuple[float, int]:
    started = time.perf_counter()
    status = call()
    return time.perf_counter() - started, status


def phase(base: str, name: str, samples: int, what: str) -> list[tuple[float, int]]:
    if what == "page":
        session = phase.session
        # A new connection each time, so the requests spread over the workers as a balancer would.
        return [timed(lambda: session.get(base + "/user/profile", headers={**EN, "Connection": "close"},
                                          allow_redirects=False,
                                          timeout=60).status_code) for _ in range(samples)]
    results = []
    for _ in range(samples):
        fresh = requests.Session()
        token = CSRF.search(fresh.get(base + "/auth/sign-in", timeout=60).text).group(1)
        results.append(timed(lambda: fresh.post(
            base + "/auth/sign-in", data={"login": name, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False, timeout=60).status_code))
    return results


def describe(label: str, results: list[tuple[float, int]], healthy: float) -> None:
    times = [t for t, _ in results]
    statuses = sorted({s for _, s in results})
    rest = times[1:] or times
    print(f"  {label:<34} first {times[0] * 1000:8.1f} ms ({times[0] / healthy:6.1f}x)   "
          f"median of the rest {statistics.median(rest) * 1000:7.1f} ms ({statistics.median(rest) / healthy:5.1f}x)"
          f"   max {max(times) * 1000:7.1f} ms   status {statuses}")


def recovery(check) -> float:
    started = time.perf_counter()
    wait_for(check, timeout=120, what="recovery")
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    redis, pg = RedisServer().start(), PostgresServer().start()
    instance = None
    try:
        url, name = prepare(pg)
        instance = Instance({"ENVIRONMENT": "testing", "SECRET_KEY": secrets.token_hex(32),
                             "SQLALCHEMY_DATABASE_URI": url, "SESSION_COOKIE_SECURE": False,
                             "PLUGINS_ENABLED": [], "RATELIMIT_STORAGE_URI": redis.url,
                             "LOG_LEVEL": "WARNING"}, workers=args.workers)
        instance.config["PUBLIC_URL"] = instance.url
        instance.start()
        base = instance.url
        phase.session = sign_in(base, name)
        workers = instance.worker_pids()
        print(f"gunicorn: {args.workers} workers x 4 threads; {args.samples} requests per phase; "
              "production timeouts (Redis 0.5 s; PostgreSQL connect 3 s, statement 5 s, breaker 2 s)")

        page = phase(base, name, args.samples, "page")
        form = phase(base, name, 6, "sign-in")
        healthy_page = statistics.median(t for t, _ in page)
        healthy_form = statistics.median(t for t, _ in form)
        print("healthy")
        describe("GET /user/profile", page, healthy_page)
        describe("POST /auth/sign-in", form, healthy_form)

        print("Redis hung (SIGSTOP)")
        redis.pause()
        describe("POST /auth/sign-in", phase(base, name, 6, "sign-in"), healthy_form)
        describe("GET /user/profile", phase(base, name, args.samples, "page"), healthy_page)
        redis.resume()
        back = recovery(lambda: requests.get(base + "/readyz", timeout=30).status_code == 200)
        print(f"  Redis resumed: /readyz ok after {back:.2f} s; limits shared again within "
              "RATELIMIT_RECHECK_SECONDS (5 s) of the next limited request")

        print("PostgreSQL hung (SIGSTOP of the whole cluster)")
        pg.pause()
        describe("GET /user/profile", phase(base, name, args.samples, "page"), healthy_page)
        describe("GET /readyz", [timed(lambda: requests.get(base + "/readyz", timeout=60).status_code)
                                 for _ in range(3)], healthy_page)
        pg.resume()
        # Every worker's breaker must have closed: several requests in a row, over new connections.
        back = recovery(lambda: all(status == 200 for _t, status in phase(base, name, 2 * args.workers, "page")))
        print(f"  PostgreSQL resumed: every worker answers 200 again after {back:.2f} s")
        print(f"workers survived: {instance.worker_pids() == workers}")
        print("after both outages")
        describe("GET /user/profile", phase(base, name, args.samples, "page"), healthy_page)
    finally:
        if instance:
            instance.stop()
        redis.close()
        pg.close()


if __name__ == "__main__":
    main()
