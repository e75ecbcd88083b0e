"""The core's side of the backend contract: the active backend comes from REALNAME_BACKEND, its
answers are applied once, answers about another attempt and failures to answer change nothing."""
from __future__ import annotations

import pytest

from portal.plugins import hookimpl
from portal.realname.backends import BackendError, Outcome, RealnameBackend, Started

from .conftest import ID_ONE, NAME, attempts, start


class Scripted(RealnameBackend):
    """A backend whose answers the test writes."""

    name = "scripted"
    label = "Scripted"

    def __init__(self):
        self.started = []
        self.answer = Outcome.pending()
        self.refuse_start = False

    def start(self, attempt):
        if self.refuse_start:
            raise BackendError("provider down", "NETWORK")
        self.started.append(attempt)
        return Started(certify_id=f"cid-{attempt.outer_order_no}", url="https://verify.example/" + attempt.outer_order_no)

    def query(self, attempt):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Plugin:
    def __init__(self, backend):
        self.backend = backend

    @hookimpl
    def portal_realname_backends(self):
        return [self.backend]


@pytest.fixture
def backend():
    return Scripted()


@pytest.fixture
def portal_config(portal_config, backend):
    return {**portal_config, "PLUGINS_EXTRA": [Plugin(backend)], "REALNAME_BACKEND": "scripted"}


def status(client):
    return client.get("/user/realname/status").get_json()["status"]


def test_the_backend_gets_the_clear_values_and_the_return_url_from_config(app, users, backend):
    app.config["PUBLIC_URL"] = "https://id.example.com"
    client, _ = users.signed_in_client()
    start(client)
    (attempt,) = backend.started
    assert (attempt.name, attempt.cert_no) == (NAME, ID_ONE)
    assert attempt.return_url == "https://id.example.com/user/realname/return"
    assert len(attempt.outer_order_no) <= 32
    page = client.get("/user/realname/progress").get_data(as_text=True)
    assert 'id="realname-qr"' in page and "https://verify.example/" + attempt.outer_order_no in page


@pytest.mark.parametrize("foreign", [{"certify_id": "cid-someone-else"}, {"outer_order_no": "RN-other"}])
def test_an_answer_about_another_attempt_changes_nothing(app, users, backend, foreign):
    client, user_id = users.signed_in_client()
    start(client)
    backend.answer = Outcome.passed(**foreign)
    assert status(client) == "pending"
    backend.answer = Outcome.passed(certify_id=f"cid-{backend.started[0].outer_order_no}")
    assert status(client) == "passed"


def test_a_backend_that_cannot_answer_leaves_it_pending(app, users, backend):
    client, _ = users.signed_in_client()
    start(client)
    backend.answer = BackendError("Alipay's answer failed signature verification", "BAD_RESPONSE")
    assert status(client) == "pending"


def test_a_failure_keeps_the_backends_reason(app, users, backend):
    client, _ = users.signed_in_client()
    start(client)
    backend.answer = Outcome.failed("人脸比对不一致")
    assert client.get("/user/realname/status").get_json()["reason"] == "人脸比对不一致"
    backend.answer = Outcome.passed()
    assert status(client) == "failed"  # decided once


def test_a_backend_that_cannot_start_says_so_and_records_a_failed_attempt(app, users, backend):
    client, user_id = users.signed_in_client()
    backend.refuse_start = True
    refused = start(client)
    assert refused.status_code == 502 and "could not start" in refused.get_data(as_text=True)
    assert [s for _, s, _ in attempts(app, user_id)] == ["failed"]


def test_an_unknown_active_backend_refuses_to_start(app, users):
    app.config["REALNAME_BACKEND"] = "nonexistent"
    client, user_id = users.signed_in_client()
    assert start(client).status_code == 502
    assert attempts(app, user_id) == []
