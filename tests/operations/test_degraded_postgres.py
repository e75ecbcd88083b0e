"""PostgreSQL hung (every process of the cluster stopped with SIGSTOP): pages answer 503 "database
unavailable" in the reader's language, the API answers JSON, /healthz stays up and /readyz says
unavailable; once the cluster resumes, everything works again with no restart."""
from __future__ import annotations

import logging
import time

import pytest
import sqlalchemy as sa

from .backends import wait_for

pytestmark = pytest.mark.xdist_group("own-servers")

# The bound tells a hang from an answer (gunicorn would kill the worker after 30 s), nothing more.
HANG = 30


@pytest.fixture(scope="module")
def pg_url(own_postgres):
    from portal.extensions import db

    import portal.models  # noqa: F401

    admin = sa.create_engine(own_postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS portal_ops"))
        conn.execute(sa.text("CREATE DATABASE portal_ops"))
    admin.dispose()
    url = own_postgres.url.rsplit("/", 1)[0] + "/portal_ops"
    engine = sa.create_engine(url)
    db.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def pg_app(portal_config, pg_url, tmp_path):
    from portal import create_app
    from portal_devkit.testing.client import PortalClient

    app = create_app(dict(portal_config, SQLALCHEMY_DATABASE_URI=pg_url, DATABASE_CONNECT_TIMEOUT_SECONDS=1,
                          DATABASE_STATEMENT_TIMEOUT_SECONDS=1, DATABASE_RETRY_SECONDS=0.2),
                     instance_path=str(tmp_path / "pg-instance"))
    app.test_client_class = PortalClient
    yield app
    from portal.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def postgres(own_postgres):
    """The cluster, resumed after the test whatever happened."""
    yield own_postgres
    own_postgres.resume()


def _timed(call):
    started = time.monotonic()
    response = call()
    assert time.monotonic() - started < HANG, "the request hung"
    return response


def _person(app, name):
    from portal_devkit.testing.plugin import Users

    from portal.apikeys import services as keys
    from portal.extensions import db
    from portal.users.models import User

    users = Users(app)
    user_id = users.create(name)
    with app.app_context():
        _key, secret = keys.create_key(db.session.get(User, user_id), "ops", ["usage"], 90)
    client = app.test_client()
    users.sign_in(client, name)
    return client, secret


def test_the_engine_has_timeouts_and_keepalives(pg_app):
    options = pg_app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_pre_ping"] is True
    assert options["connect_args"]["connect_timeout"] == 1
    assert options["connect_args"]["options"] == "-c statement_timeout=1000"
    assert options["connect_args"]["keepalives"] == 1
    with pg_app.app_context():
        from portal.extensions import db

        assert db.session.execute(sa.text("SHOW statement_timeout")).scalar_one() == "1s"


def test_a_hung_database_gives_503_then_recovers(pg_app, postgres, caplog):
    zh, key = _person(pg_app, f"pg{time.time_ns()}")
    assert zh.get("/user/profile").status_code == 200

    postgres.pause()
    with caplog.at_level(logging.INFO):
        page = _timed(lambda: zh.get("/user/profile"))
        assert page.status_code == 503
        assert "暂时无法使用" in page.get_data(as_text=True)
        assert page.headers["Retry-After"]
        english = _timed(lambda: zh.get("/user/profile", headers={"Accept-Language": "en"}))
        assert english.status_code == 503 and "Temporarily unavailable" in english.get_data(as_text=True)
        api = _timed(lambda: zh.get("/api/v1/accounts", headers={"Authorization": f"Bearer {key}"}))
        assert api.status_code == 503
        assert api.get_json()["error"]["code"] == "service_unavailable"
        assert _timed(lambda: zh.get("/healthz")).status_code == 200
        ready = _timed(lambda: zh.get("/readyz"))
        assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "unavailable"
        for _ in range(5):  # the breaker answers these at once
            assert _timed(lambda: zh.get("/user/profile")).status_code == 503
    failures = [r for r in caplog.records if r.name == "portal.errors"]
    assert failures and all(r.exc_info is None for r in failures), "tracebacks during an outage"
    assert all("503 database unavailable" in r.getMessage() for r in failures)

    postgres.resume()
    wait_for(lambda: zh.get("/user/profile").status_code == 200, what="pages to work again")
    assert zh.get("/readyz").get_json() == {"status": "ok", "checks": {"database": "ok"}}
    assert zh.get("/api/v1/accounts", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_a_stopped_database_connection_is_refused_fast(pg_app, postgres):
    client, _key = _person(pg_app, f"pgc{time.time_ns()}")
    with pg_app.app_context():
        from portal.extensions import db

        db.engine.dispose()  # no pooled connection: the next request must connect
    postgres.pause()
    assert _timed(lambda: client.get("/user/profile")).status_code == 503
    postgres.resume()
    wait_for(lambda: client.get("/user/profile").status_code == 200, what="pages to work again")
