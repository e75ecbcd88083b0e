"""Signed-in devices (登录设备): starting, checking, listing and ending device sessions.

A session is checked on every request (``check``), so ending it takes effect at once on every
instance. ``last_seen_at`` is written at most once a minute per session, after the response, on its
own connection. A sign-in from a device and network never seen for the user sends a notice.
"""
from __future__ import annotations

import functools
import ipaddress
import secrets
from datetime import timedelta

import sqlalchemy as sa

from portal.devices.agents import describe
from portal.devices.models import DeviceSession
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

TOUCH_SECONDS = 60


def ip_range(ip: str | None) -> str | None:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def start(user, ip: str | None, user_agent: str | None, method: str) -> tuple[DeviceSession, bool]:
    """A new device session for ``user`` (the caller commits); and whether this device and network
    are new for the user (never both seen together before, and the user has signed in before)."""
    device, network = describe(user_agent), ip_range(ip)
    seen_before, known = db.session.execute(
        _seen_statement(network is None), {"user_id": user.id, "device": device, "network": network}).one()
    row = DeviceSession(public_id=secrets.token_urlsafe(16), user_id=user.id, device=device[:64],
                        user_agent=(user_agent or "")[:512] or None, ip=ip, ip_range=network, method=method[:40])
    db.session.add(row)
    return row, seen_before and not known


@functools.lru_cache(maxsize=2)
def _seen_statement(no_network: bool) -> sa.Select:
    """Whether the user has any device session, and one from this device and network. Built once
    per process (every sign-in asks), the values bind parameters; an unknown network is IS NULL."""
    mine = DeviceSession.user_id == sa.bindparam("user_id")
    network = DeviceSession.ip_range.is_(None) if no_network else DeviceSession.ip_range == sa.bindparam("network")
    return sa.select(
        sa.exists().where(mine),
        sa.exists().where(mine, DeviceSession.device == sa.bindparam("device"), network),
    )


def new_device_notice(row: DeviceSession):
    return _l(
        "Someone signed in to your account from a new device or network: %(device)s, IP address %(ip)s.",
        device=row.device, ip=row.ip or "-",
    )


def check(user_id: int, public_id: str) -> DeviceSession | None:
    """The live session ``public_id`` of ``user_id``, or None (ended, unknown, another user's)."""
    return db.session.scalar(live_session_query(user_id, public_id))


def live_session_query(user_id: int, public_id: str) -> sa.Select:
    """The statement behind ``check``, for callers that load more in the same round trip."""
    return sa.select(DeviceSession).where(
        DeviceSession.public_id == public_id, DeviceSession.user_id == user_id, DeviceSession.ended_at.is_(None))


def touch(session_id: int, ip: str | None) -> None:
    """Record that the session was seen now, unless it was within the last minute. Runs on its own
    connection after the response was made, so it never commits the request's own work."""
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(sa.update(DeviceSession)
                     .where(DeviceSession.id == session_id,
                            DeviceSession.last_seen_at < now - timedelta(seconds=TOUCH_SECONDS))
                     .values(last_seen_at=now, ip=ip))


def needs_touch(row: DeviceSession) -> bool:
    return row.last_seen_at < utcnow() - timedelta(seconds=TOUCH_SECONDS)


def live_sessions(user_id: int) -> list[DeviceSession]:
    return list(db.session.scalars(sa.select(DeviceSession).where(
        DeviceSession.user_id == user_id, DeviceSession.ended_at.is_(None))
        .order_by(DeviceSession.last_seen_at.desc(), DeviceSession.id.desc())))


def end(user_id: int, session_id: int, reason: str) -> DeviceSession | None:
    """End one of the user's live sessions; None when it is not one (another user's, or ended).
    The caller commits."""
    row = db.session.scalar(sa.select(DeviceSession).where(
        DeviceSession.id == session_id, DeviceSession.user_id == user_id, DeviceSession.ended_at.is_(None)))
    if row is not None:
        row.ended_at, row.ended_reason = utcnow(), reason
    return row


def end_all(user_id: int, reason: str, keep_public_id: str | None = None) -> int:
    """End every live session of the user but ``keep_public_id``; returns how many (caller commits)."""
    query = sa.update(DeviceSession).where(DeviceSession.user_id == user_id, DeviceSession.ended_at.is_(None))
    if keep_public_id:
        query = query.where(DeviceSession.public_id != keep_public_id)
    return db.session.execute(query.values(ended_at=utcnow(), ended_reason=reason)).rowcount
