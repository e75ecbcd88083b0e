"""Operators: `portal users reset-2fa` removes a user's second factors after support checked who they
are; organizations (or the whole site) can require two-factor sign-in of their owners and admins."""
from __future__ import annotations

from portal.extensions import db
from portal.mfa.models import RecoveryCode, TotpAuthenticator
from portal.security_log.models import SecurityEvent
from tests.mfa.conftest import enrol, is_signed_in, sign_in_password


def test_reset_2fa_removes_the_factors_ends_the_sessions_and_is_logged(app, runner, alice, mailbox):
    client = app.test_client()
    sign_in_password(client)
    client.submit("/auth/two-factor", {"code": alice.code()})
    assert is_signed_in(client)
    result = runner.invoke(args=["portal", "users", "reset-2fa", "alice", "--reason", "ticket 42, ID seen", "--yes"])
    assert result.exit_code == 0, result.output
    assert not is_signed_in(client)
    with app.app_context():
        assert db.session.scalar(db.select(TotpAuthenticator).filter_by(user_id=alice.user_id)) is None
        assert db.session.scalar(db.select(RecoveryCode).filter_by(user_id=alice.user_id)) is None
        event = db.session.scalars(db.select(SecurityEvent).filter_by(kind="mfa_reset")).one()
    assert event.actor_kind == "operator" and event.details == {"reason": "ticket 42, ID seen"}
    assert "Support removed the two-factor sign-in" in mailbox.notices("alice@example.com")[-1]["body"]
    assert sign_in_password(app.test_client()).headers["Location"] == "/user/profile"


def test_reset_2fa_asks_for_a_reason(runner, alice):
    result = runner.invoke(args=["portal", "users", "reset-2fa", "alice", "--yes"])
    assert result.exit_code != 0 and "--reason" in result.output


def _org_with_admin(app, users):
    from portal.orgs import services as orgs
    from portal.users.models import User

    owner_id = users.create("olga")
    with app.test_request_context():
        org = orgs.create_organization(db.session.get(User, owner_id), "acme", "Acme")
        return org.slug, owner_id


def test_an_organization_can_require_it_of_its_managers(app, runner, users):
    slug, owner_id = _org_with_admin(app, users)
    client = app.test_client()
    users.sign_in(client, "olga")
    assert client.get(f"/orgs/{slug}/members").status_code == 200
    result = runner.invoke(args=["portal", "orgs", "require-2fa", slug])
    assert result.exit_code == 0, result.output
    blocked = client.get(f"/orgs/{slug}/members")
    assert blocked.status_code == 302 and blocked.headers["Location"] == "/user/two-factor"
    assert client.get("/user/profile").status_code == 200
    enrol(app, owner_id)
    assert client.get(f"/orgs/{slug}/members").status_code == 200
    # Managers of such an organization cannot turn it off.
    client.submit("/user/two-factor/disable", page="/user/two-factor")
    with app.app_context():
        assert db.session.scalar(db.select(TotpAuthenticator).filter_by(user_id=owner_id)) is not None
        event = db.session.scalars(db.select(SecurityEvent).filter_by(kind="org_settings_changed")).one()
    assert event.actor_kind == "operator" and event.details == {"require_2fa": True}


def test_the_site_can_require_it_of_every_organizations_managers(app, users):
    slug, _ = _org_with_admin(app, users)
    app.config["MFA_REQUIRED_FOR_ORG_MANAGERS"] = True
    client = app.test_client()
    users.sign_in(client, "olga")
    assert client.get(f"/orgs/{slug}/members").headers["Location"] == "/user/two-factor"
