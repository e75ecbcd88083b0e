"""The scheduled job: keys expiring within a week are announced once, expired keys reported once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.apikeys import expiry, services
from portal.apikeys.models import ApiKey
from portal.extensions import db
from portal.timeutil import utcnow
from portal.users.models import User


@pytest.fixture
def alice(app, users):
    user_id = users.create("alice")
    with app.app_context():
        yield db.session.get(User, user_id)


def _key(user, name, lifetime, created_days_ago=0):
    key, _secret = services.create_key(
        user, name, ["read"], lifetime, now=utcnow() - timedelta(days=created_days_ago)
    )
    return key.id


def test_each_key_is_announced_once_and_reported_once(app, alice):
    soon = _key(alice, "soon", 30, created_days_ago=25)
    later = _key(alice, "later", 30)
    forever = _key(alice, "forever", None)
    gone = _key(alice, "gone", 7, created_days_ago=8)
    revoked = _key(alice, "revoked", 7, created_days_ago=3)
    services.revoke_key(alice, db.session.get(ApiKey, revoked))

    report = expiry.run()
    assert (report.announced, report.reported) == (1, 1)
    assert db.session.get(ApiKey, soon).expiry_announced_at is not None
    assert db.session.get(ApiKey, gone).expiry_noticed_at is not None
    for untouched in (later, forever, revoked):
        row = db.session.get(ApiKey, untouched)
        assert row.expiry_announced_at is None and row.expiry_noticed_at is None

    again = expiry.run()
    assert (again.announced, again.reported) == (0, 0)
    # Once "soon" has expired it is reported, but not announced again.
    final = expiry.run(now=utcnow() + timedelta(days=6))
    assert (final.announced, final.reported) == (0, 1)


def test_the_owner_is_emailed_once_before_and_told_once_after(app, alice, mailbox):
    # The sandbox's mailbox lives as long as the test session: only what arrives now counts.
    earlier = len(mailbox.to("alice@example.com"))
    _key(alice, "nightly-build", 7, created_days_ago=1)
    expiry.run()
    expiry.run()
    [reminder] = [m for m in mailbox.to("alice@example.com")[earlier:] if "expires soon" in m["subject"]]
    assert "nightly-build" in reminder["body"] and "Asia/Shanghai" in reminder["body"]
    assert "revoke the old one" in reminder["body"]
    before = len(mailbox.notices("alice@example.com"))
    expiry.run(now=utcnow() + timedelta(days=7))
    expiry.run(now=utcnow() + timedelta(days=8))
    expired = mailbox.notices("alice@example.com")[before:]
    assert len(expired) == 1 and "has expired" in expired[0]["body"]


def test_the_reminder_speaks_the_owners_language(app, alice, mailbox):
    alice.locale = "zh_CN"
    db.session.commit()
    _key(alice, "构建", 7, created_days_ago=1)
    expiry.run()
    reminder = mailbox.to("alice@example.com")[-1]
    assert "即将过期" in reminder["subject"] and "构建" in reminder["body"]


def test_the_job_runs_from_the_command_line(app, runner, alice):
    _key(alice, "soon", 7)
    result = runner.invoke(args=["portal", "apikeys", "expiry"])
    assert result.exit_code == 0, result.output
    assert "announced 1 keys expiring soon, reported 0 expired keys" in result.output


def test_stored_api_answers_are_purged_after_24_hours(app, runner, alice):
    from portal.api.models import IdempotentRequest

    key_id = _key(alice, "k", 7)
    for hours, name in ((25, "old"), (1, "fresh")):
        db.session.add(
            IdempotentRequest(
                api_key_id=key_id,
                idempotency_key=name,
                fingerprint="f",
                status_code=200,
                response_body="{}",
                created_at=utcnow() - timedelta(hours=hours),
            )
        )
    db.session.commit()
    result = runner.invoke(args=["portal", "api", "purge"])
    assert "deleted 1 stored answers" in result.output
    assert db.session.scalars(db.select(IdempotentRequest.idempotency_key)).all() == ["fresh"]
