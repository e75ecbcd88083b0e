"""The security log: events written with the change (a rolled-back change leaves none), append-only,
never holding a secret; the user's page shows 90 days, filters by type and exports CSV; an
organization's log is for its owners and admins; `portal log prune` forgets past the retention."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.security_log import record
from portal.security_log.models import SecurityEvent
from portal.timeutil import utcnow
from portal.users.models import User


def kinds(app, user_id):
    with app.app_context():
        return db.session.scalars(db.select(SecurityEvent.kind).filter_by(user_id=user_id)
                                  .order_by(SecurityEvent.id)).all()


def test_sign_in_failure_and_sign_out_are_recorded(app, users):
    user_id = users.create("alice")
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
    client.submit("/auth/sign-in", {"login": "alice", "password": "wrong password!"})
    users.sign_in(client, "alice")
    client.submit("/auth/sign-out", page="/auth/forgot-password")
    assert kinds(app, user_id) == ["sign_in_failed", "sign_in", "sign_out"]
    with app.app_context():
        failed, signed_in, _ = db.session.scalars(db.select(SecurityEvent).order_by(SecurityEvent.id)).all()
    assert failed.actor_kind == "visitor" and failed.details == {"method": "password"}
    assert signed_in.actor_id == user_id and signed_in.ip == "127.0.0.1"
    assert signed_in.details == {"method": "password", "device": "Firefox on Linux"}
    assert "wrong password" not in str(failed.details)


def test_the_page_shows_the_users_own_events_filtered_and_paginated(app, users):
    client, user_id = users.signed_in_client("alice")
    other_id = users.create("bob")
    with app.app_context():
        for _ in range(60):
            record("sign_in_failed", user_id=user_id, details={"method": "password"})
        record("sign_in_failed", user_id=other_id, details={"method": "bob's"})
        record("sign_in_failed", user_id=user_id, details={"method": "too old"}).created_at = \
            utcnow() - timedelta(days=91)
        db.session.commit()
    page = client.get("/user/security-log", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert page.count('data-kind="sign_in_failed"') == 50 and "bob&#39;s" not in page and "too old" not in page
    assert 'id="security-log-older"' in page
    second = client.get("/user/security-log?page=2").get_data(as_text=True)
    assert second.count('data-kind=') == 11  # 10 failures and the sign-in
    only = client.get("/user/security-log?kind=sign_in").get_data(as_text=True)
    assert only.count('data-kind="sign_in"') == 1 and 'data-kind="sign_in_failed"' not in only
    assert client.get("/user/security-log?page=abc&kind=nonsense").status_code == 200


def test_csv_export(app, users):
    client, user_id = users.signed_in_client("alice")
    with app.app_context():
        record("api_key_created", user_id=user_id, details={"name": "=HYPERLINK(1)", "secret": "pk_x"})
        db.session.commit()
    response = client.get("/user/security-log.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["event"] for r in rows] == ["api_key_created", "sign_in"]
    assert rows[0]["details"] == "'name==HYPERLINK(1)" or rows[0]["details"].startswith("name=")
    assert "pk_x" not in response.get_data(as_text=True)


def test_secrets_codes_and_id_numbers_never_reach_the_log(app, users):
    user_id = users.create("alice")
    with app.app_context():
        event = record("operator_action", user_id=user_id, details={
            "password": "x", "code": "123456", "id_number": "110101199003071234", "totp_secret": "ABC",
            "recovery_code": "abcd", "api_key": "pk_1234", "action": "recover"})
        db.session.commit()
        assert event.details == {"api_key": "pk_1234", "action": "recover"}


def test_an_event_of_a_rolled_back_change_is_gone(app, users):
    user_id = users.create("alice")
    with app.app_context():
        user = db.session.get(User, user_id)
        user.locale = "en"
        record("password_changed", user)
        db.session.rollback()
    assert kinds(app, user_id) == []


def test_events_are_append_only(app, users):
    user_id = users.create("alice")
    with app.app_context():
        event = record("sign_in", user_id=user_id)
        db.session.commit()
        event.kind = "sign_out"
        with pytest.raises(RuntimeError):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.get(SecurityEvent, event.id))
        with pytest.raises(RuntimeError):
            db.session.commit()


def test_prune_removes_events_past_the_retention(app, runner, users):
    user_id = users.create("alice")
    with app.app_context():
        record("sign_in", user_id=user_id).created_at = utcnow() - timedelta(days=181)
        record("sign_in", user_id=user_id).created_at = utcnow() - timedelta(days=179)
        db.session.commit()
    result = runner.invoke(args=["portal", "log", "prune"])
    assert "removed 1 security events older than 180 days" in result.output
    assert runner.invoke(args=["portal", "log", "prune", "--days", "30"]).output.startswith("removed 1 ")


def test_an_organizations_log_is_for_its_owners_and_admins(app, users):
    from portal.orgs import services as orgs

    owner, owner_id = users.signed_in_client("olga")
    member, member_id = users.signed_in_client("mia")
    with app.test_request_context():
        org = orgs.create_organization(db.session.get(User, owner_id), "acme", "Acme")
        from portal.orgs.models import Membership

        db.session.add(Membership(org_id=org.id, user_id=member_id, role="member"))
        record("member_added", user_id=member_id, org_id=org.id, details={"role": "member"})
        db.session.commit()
    page = owner.get("/orgs/acme/security-log").get_data(as_text=True)
    assert 'data-kind="member_added"' in page
    assert owner.get("/orgs/acme/security-log.csv").status_code == 200
    assert member.get("/orgs/acme/security-log").status_code == 404
    assert member.get("/orgs/acme/security-log.csv").status_code == 404
    assert member.get("/orgs/nope/security-log").status_code == 404
