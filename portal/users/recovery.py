"""Taking an account back: the ways in (secondary emails, the phone, linked third-party accounts) that
were added recently, and removing them in one step.

"Reset means reset": whoever borrowed a session may have planted a way back in before the password
was reset. After a reset the owner sees what was added in the last 30 days and can remove it all at
once; an operator does the same for a hijacked account with ``flask portal users recover``, which
also ends every session and records what it did (the ``portal.audit`` log and a notice to the user).
The primary email is never removed here: that is the contact the account is recovered through.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.notices import send_notice
from portal.timeutil import utcnow
from portal.users.models import User

audit = logging.getLogger("portal.audit")

REVIEW_DAYS = 30
EMAIL, PHONE, IDENTITY = "email", "phone", "identity"


@dataclass(frozen=True)
class WayIn:
    kind: str  # EMAIL, PHONE or IDENTITY
    key: str  # email id, "phone", or the provider name
    label: str  # the address, the masked phone, "github: Alice"
    added_at: datetime


def recent_ways_in(user: User, days: int = REVIEW_DAYS, now: datetime | None = None) -> list[WayIn]:
    """What was added to ``user`` in the last ``days`` days that could let someone in or recover the
    account, newest first. The primary email is not listed."""
    from portal.identities.services import identities_of
    from portal.users.contacts import mask_phone

    since = (now or utcnow()) - timedelta(days=days)
    found = [WayIn(EMAIL, str(e.id), e.address, e.created_at)
             for e in user.emails if not e.is_primary and e.created_at >= since]
    if user.phone and user.phone_verified_at and user.phone_verified_at >= since:
        found.append(WayIn(PHONE, "phone", mask_phone(user.phone), user.phone_verified_at))
    found += [WayIn(IDENTITY, provider, f"{provider}: {identity.name or identity.subject}", identity.linked_at)
              for provider, identity in identities_of(user.id).items() if identity.linked_at >= since]
    return sorted(found, key=lambda way: way.added_at, reverse=True)


def remove_ways_in(user: User, ways: list[WayIn]) -> list[WayIn]:
    """Remove ``ways`` (from ``recent_ways_in``) in one transaction; returns what was removed.

    The phone stays when nothing else verified would remain to reach the user; a linked account
    stays when it is the only way left to sign in (no password)."""
    from portal.identities.models import Identity

    removed = []
    emails = {str(e.id): e for e in user.emails if not e.is_primary}
    for way in ways:
        if way.kind == EMAIL and way.key in emails:
            db.session.delete(emails[way.key])
            removed.append(way)
    primary = user.primary_email
    for way in ways:
        if way.kind == PHONE and user.phone and primary is not None and primary.is_verified:
            user.phone, user.phone_verified_at = None, None
            removed.append(way)
    identities = [way for way in ways if way.kind == IDENTITY]
    remaining = db.session.scalar(sa.select(sa.func.count()).select_from(Identity).filter_by(user_id=user.id))
    for way in identities:
        if user.password_hash is None and remaining <= 1:
            break
        deleted = db.session.execute(sa.delete(Identity).filter_by(user_id=user.id, provider=way.key)).rowcount
        remaining -= deleted
        if deleted:
            removed.append(way)
    db.session.commit()
    db.session.refresh(user)
    return removed


def end_sessions(user: User) -> None:
    from portal.users.services import end_all_sessions

    end_all_sessions(user, reason="operator")


def recover(user: User, days: int, operator: str = "operator") -> list[WayIn]:
    """What support does for a hijacked account: end every session, remove the secondary emails and
    linked accounts added in the last ``days`` days (and the phone, when it is that recent), record
    it and tell the user."""
    ways = recent_ways_in(user, days)
    removed = remove_ways_in(user, ways)
    from portal.security_log import record_operator_action

    # Committed with the end of the sessions.
    record_operator_action("operator_action", user, details={"action": "recover", "days": days,
                                                             "removed": len(removed)})
    end_sessions(user)
    for way in removed:
        audit.info("recover user=%s by=%s removed %s %s added %s", user.id, operator, way.kind, way.label,
                   way.added_at.isoformat(timespec="seconds"))
    audit.info("recover user=%s by=%s ended every session (window %d days, %d removed)",
               user.id, operator, days, len(removed))
    send_notice(user, _l("Support recovered your account: every session was signed out and %(count)d sign-in "
                         "methods or contacts added in the last %(days)d days were removed.",
                         count=len(removed), days=days))
    return removed

