"""Probes for load balancers and orchestrators.

``/healthz`` (liveness): the process answers; it touches no backend, so an outage of the database
never gets healthy workers restarted. ``/readyz`` (readiness): the database and the shared
rate-limit storage (Redis, when configured) answer now; JSON, 503 when either does not, so a balancer
sends traffic elsewhere. Both go through the same timeouts as requests (portal/database.py,
portal/ratelimits.py), so a hung backend makes them fail fast rather than hang.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from portal import database, ratelimits
from portal.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _database_answers() -> bool:
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except database.unavailable_errors() as exc:
        log.warning("readiness: database unavailable: %s", type(exc).__name__)
        return False


@bp.get("/readyz")
def readyz():
    checks = {"database": "ok" if _database_answers() else "unavailable"}
    redis = ratelimits.shared_storage_answers(current_app)
    if redis is not None:
        checks["redis"] = "ok" if redis else "unavailable"
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    return response
