"""Writing and reading the security log.

``record(kind, user=..., details=...)`` adds an event to the current database transaction: it is
committed with the change it describes and rolled back with it, so the log never tells of a change
that did not happen. Call it before the commit of the change.

Details are small and structured (``{"method": "password"}``); keys that could carry a secret, a
code or an ID number are dropped here, whoever calls.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request

from portal.extensions import db
from portal.pagination import paginate
from portal.security_log.events import KINDS, OPERATOR, SYSTEM, USER, VISITOR
from portal.security_log.models import SecurityEvent
from portal.timeutil import utcnow

# What a user sees of their own log (GitHub's security log shows 90 days).
VISIBLE_DAYS = 90
_FORBIDDEN_KEY = re.compile(r"secret|password|passwd|code|token|otp|id_?number|idcard|cert|key$|hash", re.I)
_ALLOWED_KEYS = {"api_key", "api_key_name", "provider_code"}
MAX_DETAIL_LENGTH = 200


def _clean(details: dict | None) -> dict:
    clean = {}
    for key, value in (details or {}).items():
        key = str(key)
        if _FORBIDDEN_KEY.search(key) and key not in _ALLOWED_KEYS:
            continue
        if isinstance(value, str):
            value = value[:MAX_DETAIL_LENGTH]
        elif not (value is None or isinstance(value, (bool, int, float))):
            value = str(value)[:MAX_DETAIL_LENGTH]
        clean[key] = value
    return clean


def record(kind: str, user=None, *, user_id: int | None = None, org_id: int | None = None,
           actor=None, actor_kind: str | None = None, details: dict | None = None) -> SecurityEvent:
    """Add a ``kind`` event about ``user`` (or ``user_id``) and/or ``org_id`` to the session.

    The actor is ``actor`` (a user), else the signed-in user of the request, else ``actor_kind``
    ("operator" for commands, "system" for jobs), else "visitor" (someone not signed in). IP and user agent come from the request, if any."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    if user is not None:
        user_id = user.id
    ip = agent = None
    if has_request_context():
        from flask_login import current_user

        from portal.net import client_ip

        ip = client_ip()
        agent = (request.user_agent.string or "")[:512] or None
        if actor is None and actor_kind is None and current_user.is_authenticated:
            actor = current_user
    if actor is not None:
        actor_id, actor_kind = actor.id, USER
    else:
        actor_id, actor_kind = None, actor_kind or (VISITOR if ip else SYSTEM)
    event = SecurityEvent(kind=kind, user_id=user_id, org_id=org_id, actor_id=actor_id, actor_kind=actor_kind,
                          ip=ip, user_agent=agent, details=_clean(details), created_at=utcnow())
    db.session.add(event)
    return event


def record_operator_action(kind: str, user=None, **kwargs) -> SecurityEvent:
    """An event made by an operator's command (``portal users ...``)."""
    return record(kind, user, actor_kind=OPERATOR, **kwargs)


def _query(user_id: int | None, org_id: int | None, kind: str | None, days: int):
    query = sa.select(SecurityEvent).where(SecurityEvent.created_at >= utcnow() - timedelta(days=days))
    if org_id is not None:
        query = query.where(SecurityEvent.org_id == org_id)
    else:
        query = query.where(SecurityEvent.user_id == user_id)
    if kind:
        query = query.where(SecurityEvent.kind == kind)
    return query.order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())


def events_page(*, user_id: int | None = None, org_id: int | None = None, kind: str | None = None,
                page: int = 1, per_page: int = 50, days: int = VISIBLE_DAYS):
    """One page of a user's (or an organization's) events of the last ``days`` days, newest first."""
    return paginate(_query(user_id, org_id, kind, days), page=page, per_page=per_page)


def export_csv(*, user_id: int | None = None, org_id: int | None = None, kind: str | None = None,
               days: int = VISIBLE_DAYS) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time_utc", "event", "user_id", "org_id", "actor", "ip", "user_agent", "details"])
    for event in db.session.scalars(_query(user_id, org_id, kind, days)):
        actor = str(event.actor_id) if event.actor_id is not None else event.actor_kind
        details = ";".join(f"{k}={v}" for k, v in sorted(event.details.items()))
        row = [event.created_at.strftime("%Y-%m-%d %H:%M:%S"), event.kind, event.user_id or "", event.org_id or "",
               actor, event.ip or "", event.user_agent or "", details]
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it as text.
        writer.writerow([f"'{cell}" if isinstance(cell, str) and cell[:1] in "=+-@\t\r" else cell for cell in row])
    return out.getvalue()


def retention_days() -> int:
    return int(current_app.config["SECURITY_LOG_RETENTION_DAYS"])


def prune(days: int | None = None) -> int:
    """Remove events older than the retention (default SECURITY_LOG_RETENTION_DAYS); returns how many."""
    cutoff = utcnow() - timedelta(days=days if days is not None else retention_days())
    removed = db.session.execute(sa.delete(SecurityEvent).where(SecurityEvent.created_at < cutoff)).rowcount
    db.session.commit()
    return removed


__all__ = ["record", "record_operator_action", "events_page", "export_csv", "prune", "OPERATOR", "SYSTEM"]
