"""Real-name verification: starting an attempt, asking its backend, deciding, and who counts as verified.

The only write path for a verification's status is ``_settle`` (a conditional UPDATE from pending),
so a query, an operator's decision and the expiry job can race without a second outcome.
The name and the ID number are sealed before they reach the database and never logged.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from portal import crypto
from portal.extensions import db
from portal.i18n import gettext as _
from portal.realname import identity
from portal.realname.backends import (
    FAILED,
    PASSED,
    Attempt,
    BackendError,
    Outcome,
    active_backend,
    backend_named,
)
from portal.realname.models import (
    CERT_NO_CONTEXT,
    EXPIRED,
    NAME_CONTEXT,
    PENDING,
    REVOKED,
    SUPERSEDED,
    Verification,
)
from portal.realname.models import FAILED as FAILED_STATUS
from portal.realname.models import PASSED as PASSED_STATUS
from portal.timeutil import utcnow
from portal.users.models import User

log = logging.getLogger(__name__)

ATTEMPT_WINDOW = timedelta(days=1)
REASON_MAX = 200


class RealnameError(ValueError):
    """A start refused; ``message`` is translated and holds no personal data."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Display:
    """What pages, the CLI and JSON may show of a verification: masked."""

    id: int
    status: str
    name: str
    cert_no: str
    backend: str
    created_at: datetime
    decided_at: datetime | None
    expires_at: datetime
    reason: str | None
    next_url: str | None


def _seal(verification: Verification) -> tuple[str, str]:
    ring = crypto.keyring()
    return (ring.decrypt(verification.name_sealed, NAME_CONTEXT),
            ring.decrypt(verification.cert_no_sealed, CERT_NO_CONTEXT))


def display(verification: Verification) -> Display:
    name, cert_no = _seal(verification)
    return Display(
        verification.id, verification.status, identity.mask_name(name), identity.mask_cert_no(cert_no),
        verification.backend, verification.created_at, verification.decided_at, verification.expires_at,
        verification.reason, verification.next_url,
    )


def cert_no_hash(cert_no: str) -> str:
    return crypto.keyring().lookup_hash(cert_no, CERT_NO_CONTEXT)


def latest(user_id: int) -> Verification | None:
    """The user's newest attempt (what the 实名认证 tab shows)."""
    return db.session.scalar(
        db.select(Verification).filter_by(user_id=user_id).order_by(Verification.id.desc()).limit(1)
    )


def verified(user_id: int) -> Verification | None:
    return db.session.scalar(db.select(Verification).filter_by(user_id=user_id, status=PASSED_STATUS))


def is_verified(user_id: int | None) -> bool:
    return user_id is not None and verified(user_id) is not None


def _max_accounts_per_id() -> int:
    return int(current_app.config["REALNAME_MAX_ACCOUNTS_PER_ID"])


def _accounts_verified_by(hash_: str, other_than: int) -> int:
    return db.session.scalar(
        db.select(db.func.count(db.distinct(Verification.user_id))).where(
            Verification.cert_no_hash == hash_, Verification.status == PASSED_STATUS,
            Verification.user_id != other_than,
        )
    )


def _serialize(user_id: int, hash_: str) -> None:
    """Hold the user's and the ID number's decisions until the transaction ends.

    A no-op UPDATE of the user row takes its row lock on PostgreSQL and the database's write lock on
    SQLite; on PostgreSQL a transaction lock on the ID number's hash also keeps two accounts from
    each passing the per-ID limit at once."""
    db.session.execute(
        db.update(User).where(User.id == user_id).values(session_version=User.session_version)
        .execution_options(synchronize_session=False)
    )
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": int(hash_[:15], 16)})


def _check_limits(user_id: int, hash_: str, now: datetime) -> None:
    config = current_app.config
    since = now - ATTEMPT_WINDOW
    counted = Verification.status != REVOKED
    by_user = db.session.scalar(
        db.select(db.func.count()).select_from(Verification)
        .where(Verification.user_id == user_id, Verification.created_at > since, counted)
    )
    if by_user >= int(config["REALNAME_ATTEMPTS_PER_DAY"]):
        raise RealnameError(_("You have started verification %(count)d times in the last 24 hours; please "
                              "try again tomorrow or contact support.", count=by_user))
    by_id = db.session.scalar(
        db.select(db.func.count()).select_from(Verification)
        .where(Verification.cert_no_hash == hash_, Verification.created_at > since, counted)
    )
    if by_id >= int(config["REALNAME_ATTEMPTS_PER_ID_PER_DAY"]):
        raise RealnameError(_("This ID number has been tried too often in the last 24 hours; please try "
                              "again tomorrow or contact support."), "cert_no")
    if _accounts_verified_by(hash_, user_id) >= _max_accounts_per_id():
        # Says nothing about which account, or whether it is one of yours.
        raise RealnameError(_("This ID number cannot verify another account. If you believe this is "
                              "wrong, contact support."), "cert_no")


def start(user: User, raw_name: str, raw_cert_no: str, return_url: str) -> Verification:
    """Validate, check the limits, hand the attempt to the active backend and record it. Commits.

    Raises RealnameError (with the field it is about) or BackendError (nothing is recorded)."""
    name = _validated(identity.validate_name, raw_name)
    cert_no = _validated(identity.validate_cert_no, raw_cert_no)
    backend = active_backend()
    ring = crypto.keyring()
    hash_ = cert_no_hash(cert_no)
    now = utcnow()
    _serialize(user.id, hash_)
    current = latest(user.id)
    if current is not None and current.status == PASSED_STATUS:
        db.session.rollback()
        raise RealnameError(_("Your identity is already verified."))
    if current is not None and current.status == PENDING:
        # Asked first: the attempt may have passed meanwhile, and then there is nothing to start.
        db.session.rollback()
        if refresh(current, force=True).status == PASSED_STATUS:
            raise RealnameError(_("Your identity is already verified."))
        _serialize(user.id, hash_)
    try:
        _check_limits(user.id, hash_, now)
    except RealnameError:
        db.session.rollback()
        raise
    outer_order_no = now.strftime("RN%Y%m%d") + secrets.token_hex(11)  # 32 characters
    # Any attempt still pending gives way to this one (its answer would come too late to matter).
    verification = Verification(
        user_id=user.id, status=PENDING, backend=backend.name, outer_order_no=outer_order_no,
        name_sealed=ring.encrypt(name, NAME_CONTEXT), cert_no_sealed=ring.encrypt(cert_no, CERT_NO_CONTEXT),
        cert_no_hash=hash_, created_at=now, expires_at=now + backend.lifetime,
    )
    db.session.execute(
        db.update(Verification)
        .where(Verification.user_id == user.id, Verification.status == PENDING)
        .values(status=SUPERSEDED, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.add(verification)
    # The attempt is recorded (and counted) before the backend is paid for it.
    db.session.commit()
    try:
        started = backend.start(Attempt(outer_order_no, return_url, name, cert_no))
    except BackendError as exc:
        log.warning("real-name backend %s could not start attempt %s: %s (%s)",
                    backend.name, verification.id, exc, exc.code)
        _settle(verification, FAILED_STATUS, _("The verification service could not start; please try "
                                               "again later."))
        raise
    db.session.execute(
        db.update(Verification).where(Verification.id == verification.id)
        .values(certify_id=started.certify_id, next_url=started.url)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(verification)
    return verification


def _validated(check, raw):
    try:
        return check(raw)
    except identity.IdentityError as exc:
        raise RealnameError(exc.message, exc.field) from None


def _attempt(verification: Verification) -> Attempt:
    return Attempt(verification.outer_order_no, "", certify_id=verification.certify_id)


def refresh(verification: Verification, force: bool = False) -> Verification:
    """Ask the backend about a pending attempt (at most every REALNAME_QUERY_INTERVAL_SECONDS unless
    ``force``) and
    apply its answer; past ``expires_at`` an attempt still pending is 已过期. Commits."""
    if verification.status != PENDING:
        return verification
    now = utcnow()
    backend = backend_named(verification.backend)
    # Polling pages ask every 2 s; the provider is asked at most once per REALNAME_QUERY_INTERVAL_SECONDS.
    interval = timedelta(seconds=float(current_app.config["REALNAME_QUERY_INTERVAL_SECONDS"]))
    recent = verification.checked_at is not None and now - verification.checked_at < interval
    outcome = Outcome.pending()
    if backend is not None and verification.certify_id is not None and (force or not recent):
        db.session.execute(
            db.update(Verification).where(Verification.id == verification.id).values(checked_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        try:
            outcome = backend.query(_attempt(verification))
        except BackendError as exc:
            log.warning("real-name backend %s could not answer about attempt %s: %s (%s)",
                        verification.backend, verification.id, exc, exc.code)
            outcome = Outcome.pending()
        outcome = _about_this_attempt(verification, outcome)
    if outcome.status == PASSED:
        return _pass(verification)
    if outcome.status == FAILED:
        reason = (outcome.reason or "").strip()[:REASON_MAX] or _("The verification did not pass.")
        return _settle(verification, FAILED_STATUS, reason)
    if now >= verification.expires_at:
        return _settle(verification, EXPIRED, None)
    db.session.refresh(verification)
    return verification


def _about_this_attempt(verification: Verification, outcome: Outcome) -> Outcome:
    """A provider answer that names another attempt is no answer about this one."""
    foreign = (
        (outcome.certify_id is not None and outcome.certify_id != verification.certify_id)
        or (outcome.outer_order_no is not None and outcome.outer_order_no != verification.outer_order_no)
    )
    if foreign:
        log.warning("real-name backend %s answered about another attempt than %s; ignored",
                    verification.backend, verification.id)
        return Outcome.pending()
    return outcome


def _pass(verification: Verification) -> Verification:
    """Passed at the backend: verified, unless the ID number already verified enough accounts."""
    _serialize(verification.user_id, verification.cert_no_hash)
    if _accounts_verified_by(verification.cert_no_hash, verification.user_id) >= _max_accounts_per_id():
        db.session.rollback()
        return _settle(verification, FAILED_STATUS, _("This ID number cannot verify another account. If you "
                                                      "believe this is wrong, contact support."))
    return _settle(verification, PASSED_STATUS, None)


def _settle(verification: Verification, status: str, reason: str | None) -> Verification:
    """pending -> ``status``, once: a conditional UPDATE, whoever else is deciding meanwhile."""
    db.session.execute(
        db.update(Verification)
        .where(Verification.id == verification.id, Verification.status == PENDING)
        .values(status=status, reason=reason, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(verification)
    return verification


def decide(verification: Verification, approve: bool, reason: str | None) -> Verification:
    """An operator's decision on an attempt their backend leaves to review. Commits.

    RealnameError when the attempt is not pending or its backend is not reviewed by operators."""
    backend = backend_named(verification.backend)
    if backend is None or not backend.reviewed_by_operator:
        raise RealnameError(f"attempt {verification.id} is verified by {verification.backend}, not by review")
    if verification.status != PENDING:
        raise RealnameError(f"attempt {verification.id} is {verification.status}, not pending")
    if approve:
        return _pass(verification)
    return _settle(verification, FAILED_STATUS, (reason or "").strip()[:REASON_MAX] or None)


def reset(user: User, reason: str | None) -> int:
    """Revoke the user's verification and pending attempts, and forget today's attempts from the
    per-user count: the user is 未认证 and may start again. Returns how many attempts changed."""
    changed = db.session.execute(
        db.update(Verification)
        .where(Verification.user_id == user.id,
               Verification.status.in_((PENDING, PASSED_STATUS)) | (Verification.created_at > utcnow() - ATTEMPT_WINDOW))
        .where(Verification.status != REVOKED)
        .values(status=REVOKED, reason=(reason or "").strip()[:REASON_MAX] or None, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return changed


def pending_review() -> list[Verification]:
    return list(db.session.scalars(
        db.select(Verification).where(Verification.status == PENDING).order_by(Verification.id)
    ))


def expire_due(now: datetime | None = None) -> int:
    """Ask about every pending attempt past its deadline, then expire those still pending (cron)."""
    now = now or utcnow()
    due = list(db.session.scalars(
        db.select(Verification).where(Verification.status == PENDING, Verification.expires_at <= now)
    ))
    return sum(1 for verification in due if refresh(verification, force=True).status == EXPIRED)


def rotate_keys(batch: int = 200) -> int:
    """Re-seal every name and ID number with the current key, and recompute the lookup hashes with
    the current lookup key. Returns how many rows changed. Commits per batch."""
    ring = crypto.keyring()
    changed = 0
    last_id = 0
    while True:
        rows = list(db.session.scalars(
            db.select(Verification).where(Verification.id > last_id).order_by(Verification.id).limit(batch)
        ))
        if not rows:
            return changed
        for row in rows:
            cert_no = ring.decrypt(row.cert_no_sealed, CERT_NO_CONTEXT)
            values = {
                "name_sealed": ring.reencrypt(row.name_sealed, NAME_CONTEXT),
                "cert_no_sealed": ring.reencrypt(row.cert_no_sealed, CERT_NO_CONTEXT),
                "cert_no_hash": ring.lookup_hash(cert_no, CERT_NO_CONTEXT),
            }
            if any(getattr(row, key) != value for key, value in values.items()):
                # Conditional on what was read, so a concurrent write is never overwritten.
                done = db.session.execute(
                    db.update(Verification)
                    .where(Verification.id == row.id, Verification.name_sealed == row.name_sealed,
                           Verification.cert_no_sealed == row.cert_no_sealed)
                    .values(**values).execution_options(synchronize_session=False)
                ).rowcount
                changed += done
            last_id = row.id
        db.session.commit()
        db.session.expire_all()
