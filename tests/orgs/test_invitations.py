"""Invitations never reveal whether an email has an account, are limited per inviter and organization,
die with their inviter's right to invite, and never grant more than the inviter's role."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.orgs import invitations, services
from portal.orgs.services import OrgError
from portal.users.models import User


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": ["smtp"]}


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


def user(users, name, **kwargs):
    return db.session.get(User, users.create(name, **kwargs))


@pytest.fixture
def acme(ctx, users):
    owner = user(users, "olivia")
    return services.create_organization(owner, "acme", "Acme Inc."), owner


def test_an_email_with_or_without_an_account_gets_the_same_invitation(acme, users, mailbox):
    org, owner = acme
    user(users, "bob", email="bob@example.com")
    known = invitations.invite(org, owner, "bob@example.com")
    unknown = invitations.invite(org, owner, "nobody.yet@example.com")
    for invitation, address in ((known, "bob@example.com"), (unknown, "nobody.yet@example.com")):
        assert invitation.invitee_id is None and invitation.invitee_email == address
        assert "olivia invited you to join Acme Inc." in mailbox.to(address)[-1]["subject"]
    assert [i.invitee_email for i in invitations.pending_invitations_of(org)] == [
        "bob@example.com", "nobody.yet@example.com"]


def test_someone_who_signs_up_with_the_address_accepts_it(acme, users):
    from portal.users.services import mark_email_verified

    org, owner = acme
    invitation = invitations.invite(org, owner, "newcomer@example.com", "admin")
    newcomer = user(users, "newcomer", email="newcomer@example.com", verified=False)
    assert invitations.pending_invitations_for(newcomer) == []
    mark_email_verified(newcomer.primary_email)
    invitations.accept_invitation(invitation.id, newcomer)
    assert services.role_of(org, newcomer) == "admin"


@pytest.fixture
def per_inviter_3(portal_config):
    portal_config.update(INVITATION_LIMIT_PER_INVITER="3/hour", INVITATION_LIMIT_PER_ORG="100/day")
    return portal_config


@pytest.fixture
def per_org_3(portal_config):
    portal_config.update(INVITATION_LIMIT_PER_INVITER="100/hour", INVITATION_LIMIT_PER_ORG="3/day")
    return portal_config


def test_invitations_are_limited_per_inviter(per_inviter_3, acme):
    org, owner = acme
    for n in range(3):
        invitations.invite(org, owner, f"guest{n}@example.com")
    with pytest.raises(OrgError, match="Too many invitations"):
        invitations.invite(org, owner, "one.more@example.com")


def test_invitations_are_limited_per_organization(per_org_3, acme, users):
    org, owner = acme
    admin = user(users, "adam")
    invitations.accept_invitation(invitations.invite(org, owner, "adam", "admin").id, admin)
    invitations.invite(org, owner, "guest1@example.com")
    invitations.invite(org, owner, "guest2@example.com")
    with pytest.raises(OrgError, match="Too many invitations"):
        invitations.invite(org, admin, "guest3@example.com")


def test_an_invitation_dies_when_its_inviter_can_no_longer_invite(acme, users):
    org, owner = acme
    admin = user(users, "adam")
    invitations.accept_invitation(invitations.invite(org, owner, "adam").id, admin)
    services.change_role(org, owner, admin.id, "admin")
    bob = user(users, "bob")
    invitation = invitations.invite(org, admin, "bob")
    services.change_role(org, owner, admin.id, "member")
    with pytest.raises(OrgError, match="no longer valid"):
        invitations.accept_invitation(invitation.id, bob)
    assert services.role_of(org, bob) is None
    assert invitations.pending_invitations_for(bob) == []


def test_an_invitation_never_grants_more_than_the_inviters_role_at_acceptance(acme, users):
    org, owner = acme
    second = user(users, "sofia")
    invitations.accept_invitation(invitations.invite(org, owner, "sofia", "owner").id, second)
    carol = user(users, "carol")
    invitation = invitations.invite(org, second, "carol", "owner")
    services.change_role(org, owner, second.id, "admin")
    invitations.accept_invitation(invitation.id, carol)
    assert services.role_of(org, carol) == "admin"


def test_an_invitee_is_told_of_waiting_invitations_when_signing_in(app, users):
    """Bug caught: an invitee who missed the email and the navbar badge never heard of the invitation."""
    with app.test_request_context():
        owner = user(users, "olivia")
        org = services.create_organization(owner, "acme", "Acme Inc.")
        user(users, "bob", email="bob@example.com")
        invitation_id = invitations.invite(org, owner, "bob@example.com").id
    told = "1 organization invitation waits for your answer under Invitations."
    client = app.test_client()
    users.sign_in(client, "bob")
    assert told in client.get("/user/profile").get_data(as_text=True)

    with app.test_request_context():
        invitations.decline_invitation(invitation_id, db.session.scalar(db.select(User).filter_by(username="bob")))
    again = app.test_client()
    users.sign_in(again, "bob")
    assert "waits for your answer" not in again.get("/user/profile").get_data(as_text=True)
