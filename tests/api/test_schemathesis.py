"""Schemathesis against the app itself: from the OpenAPI document it generates valid and invalid
requests for every operation, and checks that none gets a server error, an undocumented status or
an answer that breaks the document's schemas (and that unknown methods are 405, missing keys 401).

Cases come from schemathesis' Hypothesis strategies directly: its pytest loader does not run on
this pytest."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from portal.extensions import db


@pytest.fixture
def portal_config(portal_config):
    # The payment channels pointed at the sandbox, and room for many failed authentications.
    return {
        **portal_config,
        "PLUGINS_ENABLED": None,
        "API_FAILURE_LIMIT": "100000/minute",
        "API_RATE_LIMIT": "100000/minute",
        "RECHARGE_START_LIMITS": "100000/minute",
        "RECHARGE_MAX_PENDING_ORDERS": 100000,
    }


@pytest.fixture
def api_key(app, owner, make_key):
    """A key that may do everything, and a little quota in use so releases can succeed."""
    from portal.accounts import quotas

    with app.app_context():
        quotas.use(owner.account_id, "containers", 2)
        db.session.commit()
    return make_key(owner.id, scopes=["read", "billing", "usage"])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_its_documented_promises(app, api_key, owner, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    seen = set()

    @given(case=schema.as_strategy(generation_mode=mode))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        account_id = (case.path_parameters or {}).get("account_id")
        if mode is GenerationMode.POSITIVE and isinstance(account_id, int) and account_id % 2 == 0:
            # Half the valid account ids are the key owner's, so successful answers are checked too.
            case.path_parameters["account_id"] = owner.account_id
        if mode is GenerationMode.POSITIVE and "Idempotency-Key" in (case.headers or {}):
            # Clients send a new key per change; hypothesis' short strings would repeat them with
            # other bodies, which the API rightly refuses (422, tested in test_usage.py).
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        response = case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"})
        seen.add((case.operation.label, response.status_code))

    check()
    print(sorted(seen))
