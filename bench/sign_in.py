"""Sign-in time per request beside argon2id's alone, and SQL statements per user-center page.

Builds the portal in-process on a scratch SQLite database (or --database-url), creates a user, then
signs in N times through the real form (CSRF token, argon2id check, session rotation), times N
argon2id checks of the same hash alone, prints the portal's overhead over argon2id (goal: at most
10 ms), and renders each user-center page, counting the SQL statements and the Python function calls
it makes (counts, not times: the same on a busy machine).

    python bench/sign_in.py -n 50
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal_devkit.testing.client import PortalClient  # noqa: E402
from portal.users import services  # noqa: E402

PASSWORD = "correct horse battery staple"
PAGES = ["/user/profile", "/user/emails", "/user/phone", "/user/password", "/account/info",
         "/billing/history", "/identities/"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="sign-ins to time")
    parser.add_argument("--database-url")
    parser.add_argument("--profile", action="store_true", help="print where the sign-ins' time goes")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
    app = create_app({
        "ENVIRONMENT": "production", "SECRET_KEY": secrets.token_hex(32), "SESSION_COOKIE_SECURE": False,
        "SQLALCHEMY_DATABASE_URI": url, "PLUGINS_ENABLED": [], "PUBLIC_URL": "http://localhost",
        # The bench signs in far more often than a person may.
        "RATELIMIT_ENABLED": False,
    }, instance_path=scratch)
    app.test_client_class = PortalClient
    with app.app_context():
        import portal.models  # noqa: F401

        db.create_all()
        user = services.register_user(f"bench{secrets.randbelow(10**6)}", f"b{secrets.token_hex(4)}@example.com",
                                      PASSWORD)
        services.mark_email_verified(user.primary_email)
        username = user.username

    from portal.passwords import verify_password
    from portal.users.models import User

    with app.app_context():
        stored = db.session.scalar(sa.select(User.password_hash).where(User.username == username))

    # Each sign-in is followed by one argon2id check of the same hash alone, so that both medians see
    # the same machine (its speed drifts by a fifth within a minute here).
    timings, alone = [], []
    profiler = cProfile.Profile() if args.profile else None
    for _ in range(args.n):
        # Each sign-in from a browser that is signed out, as people sign in: a new client, its form.
        client = app.test_client()
        token = client.csrf_token("/auth/sign-in")
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        response = client.post("/auth/sign-in", data={"login": username, "password": PASSWORD,
                                                      "csrf_token": token})
        timings.append((time.perf_counter() - started) * 1000)
        if profiler:
            profiler.disable()
        assert response.status_code == 302, response.status_code
        with app.app_context():
            started = time.perf_counter()
            assert verify_password(stored, PASSWORD)
            alone.append((time.perf_counter() - started) * 1000)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"portal", 30)

    config = app.config
    print(f"argon2id m={config['PASSWORD_ARGON2_MEMORY_KIB']} KiB t={config['PASSWORD_ARGON2_TIME_COST']} "
          f"p={config['PASSWORD_ARGON2_PARALLELISM']}")
    timings.sort()
    print(f"sign-in: n={args.n} median {statistics.median(timings):.1f} ms, "
          f"p95 {timings[int(len(timings) * 0.95) - 1]:.1f} ms, min {timings[0]:.1f} ms")
    overhead = statistics.median(timings) - statistics.median(alone)
    print(f"argon2id alone: median {statistics.median(alone):.1f} ms; the portal's overhead: {overhead:.1f} ms "
          f"(sign-in / argon2id = {statistics.median(timings) / statistics.median(alone):.2f}; goal: overhead <= 10 ms)")

    statements = []
    with app.app_context():
        engine = db.engine
    # Outside an app context, as a server runs: each request its own session, nothing cached between.
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for page in PAGES:
        client.get(page)
        statements.clear()
        status = client.get(page).status_code
        count = len(statements)
        # Python function calls per request: the work a page makes, whatever else the machine runs.
        calls = cProfile.Profile()
        calls.enable()
        client.get(page)
        calls.disable()
        print(f"{page:<20} {status}  {count} SQL statements, {pstats.Stats(calls).total_calls:,} function calls")


if __name__ == "__main__":
    main()
