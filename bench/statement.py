"""交易记录 at scale: the SQL of one statement page, and its p50 with 1,000 and with --entries (100,000)
ledger entries and unpaid orders, on PostgreSQL (and SQLite unless --no-sqlite).

For each database it creates the schema, one account with ``--entries`` ledger entries spread over a
year (and one unpaid order per 20 entries), a second account of the same size (a statement must
never read it), signs in through the page, then times --requests GETs of the first page and of a
page deep in the history (through its cursor), filtered and unfiltered, after a warm-up. It prints
each figure beside the same measurement at 1,000 entries, as a ratio: near 1.0 means a page costs
the same whatever the length of the history.

    python bench/statement.py --entries 100000 --requests 200
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "correct horse battery staple"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="ledger entries per account (default 100000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page (default 200)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "PORTAL_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_statement"),
        help="a scratch PostgreSQL database (created if missing, dropped and made again)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    return parser.parse_args()


def fresh_postgres(url: str) -> None:
    import sqlalchemy as sa

    base, name = url.rsplit("/", 1)
    engine = sa.create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def build(url: str, entries: int):
    """An app on ``url`` with the schema and two accounts of ``entries`` entries; (app, client, account id)."""
    import sqlalchemy as sa

    from portal import create_app
    from portal.accounts.access import personal_account
    from portal.accounts.models import Account
    from portal.billing.models import LedgerEntry, Order
    from portal.extensions import db
    from portal.users import services

    app = create_app({
        "ENVIRONMENT": "development", "SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": url,
        "PLUGINS_ENABLED": [], "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
    })
    with app.app_context():
        import portal.models  # noqa: F401 - every table

        db.create_all()
        accounts = []
        for name in ("reader", "neighbour"):
            user = services.register_user(name, f"{name}@example.com", PASSWORD)
            services.mark_email_verified(user.primary_email)
            accounts.append(personal_account(user).id)
        start = datetime(2025, 1, 1)
        step = timedelta(days=365) / max(entries, 1)
        for account_id in accounts:
            rows, balance = [], 0
            for i in range(entries):
                balance += 100
                rows.append({"account_id": account_id, "amount_fen": 100, "balance_after_fen": balance,
                             "kind": "adjustment", "reference": f"bench {i}", "created_at": start + step * i})
            db.session.execute(sa.insert(LedgerEntry), rows)
            db.session.execute(sa.update(Account).where(Account.id == account_id).values(balance_fen=balance))
            orders = [{"account_id": account_id, "channel": "alipay", "amount_fen": 500, "state": "expired",
                       "created_at": start + step * i, "expires_at": start + step * i + timedelta(days=1)}
                      for i in range(0, entries, 20)]
            db.session.execute(sa.insert(Order), orders)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
                conn.commit()
    client = app.test_client()
    response = client.post("/auth/sign-in", data={"login": "reader", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return app, client, accounts[0]


def timed(client, path: str, requests: int) -> float:
    for _ in range(10):
        assert client.get(path).status_code == 200
    samples = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - began)
        assert response.status_code == 200
    return statistics.median(samples) * 1000


def page_sql(app, client, path: str) -> list[str]:
    import sqlalchemy as sa

    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        client.get(path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def deep_path(client) -> str:
    """The 30th page's URL, by following the cursors."""
    path = "/billing/history"
    for _ in range(30):
        found = re.search(r'href="([^"]+)" id="billing-next"', client.get(path).get_data(as_text=True))
        path = found.group(1).replace("&amp;", "&")
    return path


def measure(label: str, url: str, entries: int, requests: int, show_sql: bool) -> dict:
    app, client, _account_id = build(url, entries)
    deep = deep_path(client)
    paths = {"first page": "/billing/history", "page 30": deep,
             "filtered (recharges, a month)": "/billing/history?kind=recharge&since=2025-06-01&until=2025-06-30"}
    if show_sql:
        statements = page_sql(app, client, "/billing/history")
        print(f"\n{label}: the {len(statements)} SQL statements of one statement page")
        for statement in statements:
            print("  " + statement[:400])
    results = {name: timed(client, path, requests) for name, path in paths.items()}
    from portal.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


def main() -> None:
    args = parse_args()
    targets = []
    if not args.no_sqlite:
        folder = tempfile.mkdtemp(prefix="portal-bench-statement-")
        targets.append(("SQLite", lambda n: f"sqlite:///{folder}/bench-{n}.sqlite3"))
    targets.append(("PostgreSQL", lambda n: args.postgres_url))
    for label, make_url in targets:
        results = {}
        for entries in (1000, args.entries):
            url = make_url(entries)
            if label == "PostgreSQL":
                fresh_postgres(url)
            results[entries] = measure(label, url, entries, args.requests, show_sql=entries == args.entries)
        print(f"\n{label}: p50 of a statement page, {args.entries:,} vs 1,000 entries per account")
        for name in results[1000]:
            small, large = results[1000][name], results[args.entries][name]
            print(f"  {name:32} {large:7.2f} ms vs {small:7.2f} ms   ratio {large / small:5.2f}")
    print(f"\nload average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
