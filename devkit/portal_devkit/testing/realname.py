"""The contract every real-name backend plugin must pass (``portal_realname_backends``).

A plugin author subclasses ``RealnameBackendContract`` in their own tests and says how the person
finishes at the provider::

    from portal_devkit.testing.realname import RealnameBackendContract

    class TestFaceIdContract(RealnameBackendContract):
        backend = "faceid"

        def finish(self, app, sandbox, attempt, result):   # result: "pass", "fail" or "abandon"
            drive_the_faceid_test_page(attempt.next_url, result)

The app then has just that plugin (``backend_settings`` points it at a test server, by default the
sandbox's settings for it), with ``REALNAME_BACKEND`` naming it. The contract starts an attempt
through the 实名认证 tab, lets the person pass, fail or abandon, and checks what the user sees: the
status, the reason of a failure, the expiry of an abandoned attempt, masked values only.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

NAME = "张小三"
CERT_NO = "110101199003071233"
MASKED = ("张*三", "1101**********1233")


class RealnameBackendContract:
    backend: str = ""
    # Other plugins the backend needs enabled (none by default).
    also_enabled: tuple[str, ...] = ()

    def backend_settings(self, sandbox) -> dict:
        return sandbox.plugin_settings().get(self.backend, {})

    def finish(self, app, sandbox, attempt, result: str) -> None:
        """Make the person ``result`` ("pass", "fail", "abandon") the attempt at the provider."""
        raise NotImplementedError

    def expire_at_provider(self, app, sandbox, attempt) -> None:
        """Make the provider forget the attempt as its lifetime ends (default: nothing to do)."""

    @pytest.fixture
    def portal_config(self, portal_config, sandbox):
        return {
            **portal_config,
            "PLUGINS_ENABLED": [self.backend, *self.also_enabled],
            "PLUGINS": {**portal_config["PLUGINS"], self.backend: self.backend_settings(sandbox)},
            "REALNAME_BACKEND": self.backend,
            "REALNAME_QUERY_INTERVAL_SECONDS": 0,
            "BABEL_DEFAULT_LOCALE": "en",
        }

    @pytest.fixture
    def member(self, users):
        return users.signed_in_client()

    def start(self, client):
        response = client.submit("/user/realname/", {"name": NAME, "cert_no": CERT_NO})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return response

    def attempt(self, app, user_id):
        """The user's newest attempt (a detached row: read its fields)."""
        from portal.extensions import db
        from portal.realname.services import latest

        with app.app_context():
            row = latest(user_id)
            db.session.expunge(row)
            return row

    def status(self, client) -> dict:
        response = client.get("/user/realname/status")
        assert response.status_code == 200
        return response.get_json()

    def test_the_backend_is_offered_under_its_name(self, app):
        from portal.realname.backends import RealnameBackend, backends

        with app.app_context():
            found = backends()
        assert isinstance(found.get(self.backend), RealnameBackend)
        assert found[self.backend].label and found[self.backend].lifetime > timedelta(0)

    def test_a_started_attempt_waits_and_shows_only_masked_values(self, app, sandbox, member):
        client, user_id = member
        self.start(client)
        attempt = self.attempt(app, user_id)
        assert attempt.status == "pending" and attempt.backend == self.backend
        assert self.status(client)["status"] == "pending"
        page = client.get("/user/realname/progress").get_data(as_text=True)
        assert all(masked in page for masked in MASKED)
        assert NAME not in page and CERT_NO not in page
        if attempt.next_url:
            assert 'id="realname-qr"' in page and attempt.next_url.split("?")[0] in page

    def test_passing_verifies_the_user(self, app, sandbox, member):
        client, user_id = member
        self.start(client)
        self.finish(app, sandbox, self.attempt(app, user_id), "pass")
        assert self.status(client) == {"status": "passed", "label": "Identity verified", "reason": None}
        page = client.get("/user/realname/").get_data(as_text=True)
        assert all(masked in page for masked in MASKED) and 'id="realname-form"' not in page

    def test_failing_is_not_passed_with_a_reason(self, app, sandbox, member):
        client, user_id = member
        self.start(client)
        self.finish(app, sandbox, self.attempt(app, user_id), "fail")
        status = self.status(client)
        assert status["status"] == "failed" and status["reason"]
        assert 'id="realname-form"' in client.get("/user/realname/").get_data(as_text=True)

    def test_an_abandoned_attempt_stays_pending_then_expires(self, app, sandbox, member):
        from portal.extensions import db
        from portal.realname.models import Verification

        client, user_id = member
        self.start(client)
        attempt = self.attempt(app, user_id)
        self.finish(app, sandbox, attempt, "abandon")
        assert self.status(client)["status"] == "pending"
        self.expire_at_provider(app, sandbox, attempt)
        with app.app_context():
            db.session.execute(db.update(Verification).where(Verification.id == attempt.id)
                               .values(expires_at=attempt.created_at))
            db.session.commit()
        assert self.status(client)["status"] == "expired"
        assert "not completed in time" in client.get("/user/realname/").get_data(as_text=True)
