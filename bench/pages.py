"""User-center pages per second under gunicorn, as a ratio to the floor of this stack.

Seeds a scratch database with one user who has 5 emails, 5 organizations and 5 orders, records each
page's SQL statements and HTML, then serves the pages twice under gunicorn (2 sync workers): by the
portal, and by bench/floor.py, a bare Flask app that sends the same statements and renders the same
HTML. wrk loads each page with 8 connections (throughput) and with 1 (latency), the two servers
taking turns for --rounds rounds; the medians and the portal/floor cost ratio are printed.

    python bench/pages.py                       # SQLite
    python bench/pages.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench

The PostgreSQL database is a scratch one: its tables are dropped and created again.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

PASSWORD = "correct horse battery staple"
PAGES = ["/user/emails", "/account/info", "/billing/history", "/user/profile"]
EXTRA = 5  # emails, organizations and orders of the user


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="portal/floor turns (default 3)")
    parser.add_argument("--connections", type=int, default=8)
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def portal_config(url: str, public_url: str) -> dict:
    return {
        "ENVIRONMENT": "production", "SECRET_KEY": secrets.token_hex(32), "SESSION_COOKIE_SECURE": False,
        "SQLALCHEMY_DATABASE_URI": url, "PLUGINS_ENABLED": [], "PUBLIC_URL": public_url,
        # The bench loads one page far more often than a person may.
        "RATELIMIT_ENABLED": False,
    }


def seed(config: dict, scratch: str) -> str:
    """Create the tables and the user; return the username."""
    from portal import create_app
    from portal.accounts.access import personal_account
    from portal.billing import ledger
    from portal.billing.orders import open_order
    from portal.extensions import db
    from portal.orgs.services import create_organization
    from portal.users import services
    from portal.users.models import Email

    app = create_app(config, instance_path=scratch)
    with app.app_context():
        import portal.models  # noqa: F401

        db.drop_all()
        db.create_all()
        user = services.register_user(f"bench{secrets.randbelow(10**6)}", "bench@example.com", PASSWORD)
        services.mark_email_verified(user.primary_email)
        account_id = personal_account(user).id
        for i in range(EXTRA):
            db.session.add(Email(user_id=user.id, address=f"alias{i}@example.com",
                                 address_key=f"alias{i}@example.com"))
            create_organization(user, f"team{i}", f"Team {i}")
            db.session.commit()
            open_order(account_id, "wechatpay", 100 + i, created_by_id=user.id)
            ledger.credit(account_id, 100 + i, "recharge")
            db.session.commit()
        return user.username


def record(config: dict, scratch: str, username: str, path: str) -> None:
    """Each page's statements (with their parameters) and HTML, as the floor replays them."""
    from portal import create_app
    from portal.extensions import db
    from portal_devkit.testing.client import PortalClient

    # The test client's Host (localhost) is not PUBLIC_URL's; the recording runs in-process.
    app = create_app({**config, "ALLOWED_HOSTS": ["localhost"]}, instance_path=scratch)
    app.test_client_class = PortalClient
    client = app.test_client()
    token = client.csrf_token("/auth/sign-in")
    assert client.post("/auth/sign-in", data={"login": username, "password": PASSWORD,
                                              "csrf_token": token}).status_code == 302
    pages = {}
    with app.app_context():
        engine = db.engine
    for page in PAGES:
        client.get(page)
        statements = []

        def keep(conn, cursor, statement, parameters, context, executemany):
            statements.append([statement, parameters])

        sa.event.listen(engine, "before_cursor_execute", keep)
        response = client.get(page)
        sa.event.remove(engine, "before_cursor_execute", keep)
        assert response.status_code == 200, (page, response.status_code)
        statements = [s for s in statements if not s[0].lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))]
        pages[page] = {"statements": statements, "html": response.get_data(as_text=True)}
    Path(path).write_text(json.dumps(pages, default=str), encoding="utf-8")


def gunicorn(app: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", app],
        cwd=ROOT, env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=30)
            return server
        except (requests.ConnectionError, requests.Timeout):
            if server.poll() is not None:
                sys.exit(f"{app} did not start; see {log}")
            time.sleep(0.2)
    sys.exit(f"{app} did not start within 60 s; see {log}")


def sign_in(port: int, username: str) -> str:
    """The session cookie of a real sign-in through the form."""
    session = requests.Session()
    page = session.get(f"http://127.0.0.1:{port}/auth/sign-in").text
    token = re.search(r'name="csrf_token" [^>]*value="([^"]+)"', page).group(1)
    response = session.post(f"http://127.0.0.1:{port}/auth/sign-in", allow_redirects=False,
                            data={"login": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def wrk(url: str, cookie: str, connections: int, duration: int) -> tuple[float, float]:
    """(requests per second, median latency in ms); non-2xx answers make the run fail."""
    output = subprocess.run(
        ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{duration}s", "--latency",
         "-H", f"Cookie: {cookie}", url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        sys.exit(f"{url} answered errors:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)", output).groups()
    return rps, float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def main() -> None:
    args = parse_args()
    scratch = tempfile.mkdtemp(prefix="portal-bench-pages-")
    url = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
    portal_port, floor_port = free_port(), free_port()
    public_url = f"http://127.0.0.1:{portal_port}"
    config = portal_config(url, public_url)
    username = seed(config, scratch)
    pages_file = f"{scratch}/pages.json"
    record(config, scratch, username, pages_file)

    log = Path(scratch, "servers.log")
    portal_env = {f"PORTAL_{key}": json.dumps(value) if not isinstance(value, str) else value
                  for key, value in config.items()}
    floor_env = {"BENCH_FLOOR_PAGES": pages_file, "BENCH_FLOOR_DATABASE_URL": url}
    servers = [gunicorn("portal.wsgi:app", portal_port, portal_env, log),
               gunicorn("bench.floor:app", floor_port, floor_env, log)]
    try:
        cookie = sign_in(portal_port, username)
        results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for _ in range(args.rounds):
            for name, port in (("portal", portal_port), ("floor", floor_port)):
                for page in PAGES:
                    target = f"http://127.0.0.1:{port}{page}"
                    rps, _ = wrk(target, cookie, args.connections, args.duration)
                    _, p50 = wrk(target, cookie, 1, max(2, args.duration // 2))
                    results.setdefault((name, page), []).append((rps, p50))
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    with open(pages_file, encoding="utf-8") as file:
        recorded = json.load(file)
    load = os.getloadavg()[0]
    print(f"database: {url.split('://')[0]}; gunicorn 2 sync workers; wrk c={args.connections} and c=1, "
          f"{args.duration} s x {args.rounds} rounds (medians); load average {load:.1f}")
    print(f"{'page':<18}{'SQL':>4}{'KiB':>6}{'portal rps':>12}{'floor rps':>11}{'cost':>7}"
          f"{'portal p50':>12}{'floor p50':>11}")
    for page in PAGES:
        portal = results[("portal", page)]
        floor = results[("floor", page)]
        portal_rps = statistics.median(r for r, _ in portal)
        floor_rps = statistics.median(r for r, _ in floor)
        portal_p50 = statistics.median(p for _, p in portal)
        floor_p50 = statistics.median(p for _, p in floor)
        size = len(recorded[page]["html"].encode()) / 1024
        print(f"{page:<18}{len(recorded[page]['statements']):>4}{size:>6.1f}{portal_rps:>12.0f}{floor_rps:>11.0f}"
              f"{floor_rps / portal_rps:>6.1f}x{portal_p50:>10.1f}ms{floor_p50:>9.1f}ms")
    print("cost: floor rps / portal rps, what the portal's own layers cost over a bare Flask page "
          "sending the same statements and HTML (goal: at most 2x)")


if __name__ == "__main__":
    main()
