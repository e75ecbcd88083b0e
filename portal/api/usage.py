"""Reserving and releasing quota for the platform's services: ``POST /accounts/{id}/usage``.

The change goes through ``portal.accounts.quotas`` (one conditional UPDATE: never over the limit,
never below zero, never partly applied), and the answer is stored under the request's
Idempotency-Key in the same transaction. A retry within 24 hours gets the stored answer; two
concurrent requests with one key cannot both act, because the second one's insert of the key
fails and rolls back its change, and it then answers with the first one's answer.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from portal.accounts import quotas
from portal.accounts.models import Account
from portal.accounts.quotas import QuotaExceeded
from portal.api.errors import ApiError, error_body
from portal.api.models import IdempotentRequest
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import localized
from portal.timeutil import utcnow

KEEP_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    # True when this is the stored answer to an earlier request with the same key.
    replayed: bool = False


def fingerprint(method: str, path: str, body: dict) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(api_key_id: int, idempotency_key: str, now: datetime) -> IdempotentRequest | None:
    record = db.session.scalar(
        db.select(IdempotentRequest).filter_by(api_key_id=api_key_id, idempotency_key=idempotency_key)
    )
    if record is not None and record.created_at <= now - KEEP_FOR:
        # Past its 24 hours the key is free again.
        db.session.execute(db.delete(IdempotentRequest).where(IdempotentRequest.id == record.id,
                                                              IdempotentRequest.created_at <= now - KEEP_FOR))
        db.session.commit()
        return None
    return record


def _replay(record: IdempotentRequest, request_fingerprint: str) -> Answer:
    if record.fingerprint != request_fingerprint:
        raise ApiError(422, "idempotency_key_reused", _(
            "This Idempotency-Key was already used for a different request; use a new key for a new "
            "request."))
    return Answer(record.status_code, json.loads(record.response_body), replayed=True)


def _quota_row(account_id: int, resource: str) -> quotas.QuotaRow:
    account = db.session.get(Account, account_id)
    return next(row for row in quotas.quota_table(account) if row.resource.key == resource)


def change_usage(api_key_id: int, idempotency_key: str, request_fingerprint: str, account_id: int,
                 resource: str, delta: int, now: datetime | None = None) -> Answer:
    now = now or utcnow()
    record = _stored(api_key_id, idempotency_key, now)
    if record is not None:
        return _replay(record, request_fingerprint)
    try:
        label = localized(quotas.find_resource(resource).label)
    except QuotaExceeded:
        raise ApiError(422, "unknown_resource", _(
            "Unknown resource %(resource)s; the account's quotas are: %(known)s.",
            resource=resource[:32], known=", ".join(r.key for r in quotas.resources()))) from None
    try:
        if delta > 0:
            quotas.use(account_id, resource, delta)
        else:
            quotas.release(account_id, resource, -delta)
    except QuotaExceeded:
        # Nothing was changed; the answer says how much there is.
        db.session.rollback()
        row = _quota_row(account_id, resource)
        if delta > 0:
            answer = Answer(409, error_body("quota_exceeded", _(
                "Not enough %(resource)s quota: %(left)d left, %(amount)d asked for.",
                resource=label, left=row.left, amount=delta), remaining=row.left))
        else:
            answer = Answer(409, error_body("release_exceeds_usage", _(
                "Cannot release %(amount)d %(resource)s: only %(used)d in use.",
                amount=-delta, resource=label, used=row.used), used=row.used))
    else:
        row = _quota_row(account_id, resource)
        answer = Answer(200, {"account_id": account_id, "resource": resource, "delta": delta,
                              "used": row.used, "limit": row.limit, "left": row.left})
    db.session.add(IdempotentRequest(
        api_key_id=api_key_id, idempotency_key=idempotency_key, fingerprint=request_fingerprint,
        status_code=answer.status, response_body=json.dumps(answer.body, ensure_ascii=False), created_at=now,
    ))
    try:
        db.session.commit()
    except IntegrityError:
        # The same key won a race a moment ago: undo this change and answer as that request did.
        db.session.rollback()
        record = _stored(api_key_id, idempotency_key, now)
        if record is None:  # pragma: no cover - the winner's row cannot vanish within 24 hours
            raise
        return _replay(record, request_fingerprint)
    return answer


def purge(now: datetime | None = None) -> int:
    """Delete stored answers past their 24 hours."""
    now = now or utcnow()
    deleted = db.session.execute(
        db.delete(IdempotentRequest).where(IdempotentRequest.created_at <= now - KEEP_FOR)
    ).rowcount
    db.session.commit()
    return deleted
