"""POST /accounts/{id}/usage: quota reserved or released all at once or not at all, once per
Idempotency-Key, and never past the limit however many ask at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from portal.extensions import db
from tests.api.conftest import error_code


@pytest.fixture
def portal_config(portal_config):
    # A hundred requests at once share the pool's 15 connections and queue on one account's row: each
    # waits its turn however long a busy machine takes. (The production waits of a few seconds, and
    # the 503 past them, are the degraded-database tests' subject.)
    return {**portal_config, "DATABASE_POOL_TIMEOUT_SECONDS": 600, "DATABASE_STATEMENT_TIMEOUT_SECONDS": 600}


@pytest.fixture
def usage(owner, make_key, api_as):
    """``usage(body, key="...")`` -> the response of a usage call on the owner's account."""
    client = api_as(make_key(owner.id, scopes=["usage"]))
    counter = iter(range(10**6))

    def call(body, key=None):
        return client.post(
            f"/accounts/{owner.account_id}/usage",
            json=body,
            headers={"Idempotency-Key": key or f"k{next(counter)}"},
        )

    call.client = client
    return call


def used(app, account_id, resource="containers"):
    from portal.accounts.models import QuotaUsage

    with app.app_context():
        return (
            db.session.scalar(db.select(QuotaUsage.used).filter_by(account_id=account_id, resource=resource))
            or 0
        )


def test_reserve_and_release(app, owner, usage):
    response = usage({"resource": "containers", "delta": 2})
    assert response.status_code == 200
    assert response.get_json() == {
        "account_id": owner.account_id,
        "resource": "containers",
        "delta": 2,
        "used": 2,
        "limit": 5,
        "left": 3,
    }
    assert usage({"resource": "containers", "delta": -2}).get_json()["used"] == 0
    assert used(app, owner.account_id) == 0


def test_over_the_quota_is_409_with_what_remains_and_changes_nothing(app, owner, usage):
    usage({"resource": "containers", "delta": 4})
    response = usage({"resource": "containers", "delta": 2})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "quota_exceeded" and error["remaining"] == 1
    assert "1 left, 2 asked for" in error["message"]
    assert used(app, owner.account_id) == 4


def test_releasing_more_than_is_used_is_409(app, owner, usage):
    usage({"resource": "containers", "delta": 1})
    response = usage({"resource": "containers", "delta": -2})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "release_exceeds_usage"
    assert response.get_json()["error"]["used"] == 1
    assert used(app, owner.account_id) == 1


@pytest.mark.parametrize(
    "delta", [0, 0.0, 2**63, -(2**63), 10**6 + 1, 1.5, 1e300, "1", True, None, [1], {"n": 1}]
)
def test_bad_deltas_are_422(app, owner, usage, delta):
    response = usage({"resource": "containers", "delta": delta})
    assert response.status_code == 422
    assert error_code(response) == "invalid_request"
    assert list(response.get_json()["error"]["fields"]) == ["delta"]
    assert used(app, owner.account_id) == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"resource": "containers"}, "delta"),
        ({"delta": 1}, "resource"),
        ({"resource": "containers", "delta": 1, "note": "hi"}, "note"),
        ({"resource": "", "delta": 1}, "resource"),
    ],
)
def test_missing_and_unknown_fields_are_422(usage, body, field):
    response = usage(body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_a_whole_number_written_with_a_decimal_point_counts(app, owner, usage):
    """JSON has one number type: 2.0 is the integer 2 (as JSON Schema says), 2.5 is refused above."""
    assert usage({"resource": "containers", "delta": 2.0}).get_json()["used"] == 2


def test_an_unknown_resource_is_422(usage):
    response = usage({"resource": "bitcoins", "delta": 1})
    assert response.status_code == 422
    assert error_code(response) == "unknown_resource"
    assert "containers" in response.get_json()["error"]["message"]


def test_the_idempotency_key_is_required(owner, usage):
    response = usage.client.post(
        f"/accounts/{owner.account_id}/usage", json={"resource": "projects", "delta": 1}
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["error"]["fields"]


def test_a_retry_with_the_same_key_returns_the_first_answer(app, owner, usage):
    first = usage({"resource": "containers", "delta": 3}, key="retry-1")
    again = usage({"resource": "containers", "delta": 3}, key="retry-1")
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert used(app, owner.account_id) == 3
    # A refusal is an answer too: the retry gets it again even once quota is free.
    refused = usage({"resource": "containers", "delta": 5}, key="retry-2")
    usage({"resource": "containers", "delta": -3})
    assert usage({"resource": "containers", "delta": 5}, key="retry-2").get_json() == refused.get_json()


def test_the_same_key_with_another_body_is_refused(app, owner, usage):
    usage({"resource": "containers", "delta": 1}, key="once")
    response = usage({"resource": "containers", "delta": 2}, key="once")
    assert response.status_code == 422
    assert error_code(response) == "idempotency_key_reused"
    assert used(app, owner.account_id) == 1


def test_keys_are_kept_24_hours(app, owner, usage):
    from portal.api.models import IdempotentRequest

    usage({"resource": "containers", "delta": 1}, key="day")
    with app.app_context():
        record = db.session.scalar(db.select(IdempotentRequest))
        record.created_at -= timedelta(hours=24, seconds=1)
        db.session.commit()
    assert "Idempotent-Replayed" not in usage({"resource": "containers", "delta": 1}, key="day").headers
    assert used(app, owner.account_id) == 2


def test_a_read_only_key_cannot_change_usage(owner, make_key, api_as):
    response = api_as(make_key(owner.id, scopes=["read"])).post(
        f"/accounts/{owner.account_id}/usage",
        json={"resource": "containers", "delta": 1},
        headers={"Idempotency-Key": "r"},
    )
    assert response.status_code == 403
    assert error_code(response) == "insufficient_scope"


def test_a_key_for_another_account_cannot_change_its_usage(app, owner, users, make_key, api_as):
    stranger = users.create("stranger")
    response = api_as(make_key(stranger, scopes=["usage"])).post(
        f"/accounts/{owner.account_id}/usage",
        json={"resource": "containers", "delta": 1},
        headers={"Idempotency-Key": "x"},
    )
    assert response.status_code == 404
    assert used(app, owner.account_id) == 0


def test_members_use_their_organizations_quota(app, org, make_key, api_as):
    member_id, account_id = org("member")
    response = api_as(make_key(member_id, scopes=["usage"])).post(
        f"/accounts/{account_id}/usage",
        json={"resource": "projects", "delta": 1},
        headers={"Idempotency-Key": "m"},
    )
    assert response.status_code == 200
    assert used(app, account_id, "projects") == 1


def run_together(count, work):
    barrier, outcomes, lock = threading.Barrier(count), [], threading.Lock()

    def run(n):
        barrier.wait()
        outcome = work(n)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_hundred_concurrent_reservations_of_the_last_unit_exactly_one_wins(app, owner, make_key):
    key = make_key(owner.id, scopes=["usage"])
    headers = {"Authorization": f"Bearer {key}"}
    first = app.test_client().post(
        f"/api/v1/accounts/{owner.account_id}/usage",
        headers={**headers, "Idempotency-Key": "warm"},
        json={"resource": "containers", "delta": 4},
    )
    assert first.status_code == 200

    def reserve(n):
        response = app.test_client().post(
            f"/api/v1/accounts/{owner.account_id}/usage",
            headers={**headers, "Idempotency-Key": f"last-{n}"},
            json={"resource": "containers", "delta": 1},
        )
        return response.status_code, response.get_json()

    outcomes = run_together(100, reserve)
    assert sorted(status for status, _ in outcomes) == [200] + [409] * 99, outcomes
    assert all(body["error"]["remaining"] == 0 for status, body in outcomes if status == 409)
    assert used(app, owner.account_id) == 5


def test_concurrent_retries_with_one_key_apply_once(app, owner, make_key):
    key = make_key(owner.id, scopes=["usage"])
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "same"}

    def reserve(_n):
        response = app.test_client().post(
            f"/api/v1/accounts/{owner.account_id}/usage",
            headers=headers,
            json={"resource": "containers", "delta": 1},
        )
        return response.status_code, response.get_json()

    outcomes = run_together(10, reserve)
    assert [status for status, _ in outcomes] == [200] * 10, outcomes
    assert {body["used"] for _, body in outcomes} == {1}
    assert used(app, owner.account_id) == 1
