"""/healthz says the process answers; /readyz says the database (and Redis, when configured) answer."""


def test_liveness_touches_no_backend(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}


def test_readiness_checks_the_database(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok", "checks": {"database": "ok"}}
