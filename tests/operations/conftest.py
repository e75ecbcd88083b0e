"""A Redis and a PostgreSQL of these tests' own (see backends.py), skipped with the reason when the
binaries are missing (.ci/run installs them)."""
from __future__ import annotations

import pytest

from .backends import PostgresServer, RedisServer, postgres_bin


@pytest.fixture
def own_redis():
    if not RedisServer.BINARY:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def own_postgres():
    if not postgres_bin():
        pytest.skip("PostgreSQL's initdb is not installed (apt-get install postgresql)")
    server = PostgresServer().start()
    yield server
    server.close()
