"""Organizations as a service: creating, inviting, roles, leaving and deleting."""
import threading

import pytest

from portal.accounts.access import can_manage, can_view, member_role
from portal.accounts.models import Account
from portal.extensions import db
from portal.orgs import invitations, services
from portal.orgs.models import Invitation, Membership, Organization
from portal.orgs.services import OrgError
from portal.users.models import User


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def user(users, name):
    return db.session.get(User, users.create(name))


def make_org(users, slug="acme"):
    owner = user(users, f"{slug}-owner".replace("-", "_")[:20])
    return services.create_organization(owner, slug, "Acme Inc."), owner


def join(org, inviter, invitee, role="member"):
    invitation = invitations.invite(org, inviter, invitee.username, role)
    invitations.accept_invitation(invitation.id, invitee)


@pytest.mark.parametrize(
    "slug",
    ["my org", "ac", "a", "acme-", "-acme", "ac--me", "аcme", "ａｃｍｅ", "acme_inc", "x" * 40,
     "admin", "api", "settings", "new", "", "ac\nme"],
)
def test_bad_slugs_are_refused(ctx, users, slug):
    owner = user(users, "alice")
    if slug == "ac":  # two characters are enough
        assert services.create_organization(owner, slug, "AC").slug == "ac"
        return
    with pytest.raises(OrgError) as error:
        services.create_organization(owner, slug, "Name")
    assert error.value.message
    assert db.session.scalar(db.select(db.func.count()).select_from(Organization)) == 0


def test_slug_is_lowercased_and_unique(ctx, users):
    owner = user(users, "alice")
    org = services.create_organization(owner, "Acme-Labs", "Acme")
    assert org.slug == "acme-labs"
    with pytest.raises(OrgError, match="taken"):
        services.create_organization(owner, "ACME-labs", "Other")


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "x" * 200, "bad\x00name", "rtl\u202ename"])
def test_bad_display_names_are_refused(ctx, users, name):
    owner = user(users, "alice")
    with pytest.raises(OrgError):
        services.create_organization(owner, "acme", name)
    assert db.session.scalar(db.select(db.func.count()).select_from(Organization)) == 0


def test_creator_owns_the_org_and_its_trial_account(ctx, users):
    org, owner = make_org(users)
    account = services.org_account(org)
    assert account.plan_key == "trial" and account.balance_fen == 0
    assert member_role(account, owner) == "owner"
    assert [m.user_id for m in services.members(org)] == [owner.id]


def test_invite_by_username_or_verified_email_then_accept(ctx, users):
    org, owner = make_org(users)
    bob = user(users, "bob")
    carol = db.session.get(User, users.create("carol", email="Carol@Example.com"))
    invitations.invite(org, owner, "BOB")
    invitations.invite(org, owner, "carol@example.com", "admin")
    assert [i.org.slug for i in invitations.pending_invitations_for(bob)] == ["acme"]
    account = services.org_account(org)
    assert not can_view(account, bob)
    invitations.accept_invitation(invitations.pending_invitations_for(bob)[0].id, bob)
    invitations.accept_invitation(invitations.pending_invitations_for(carol)[0].id, carol)
    assert member_role(account, bob) == "member"
    assert can_manage(account, carol) and not can_manage(account, bob)
    assert invitations.pending_invitations_for(bob) == []


def test_an_invitation_by_email_reaches_only_whoever_verifies_the_address(ctx, users):
    from portal.users.services import mark_email_verified

    org, owner = make_org(users)
    dave = db.session.get(User, users.create("dave", verified=False))
    invitation = invitations.invite(org, owner, "Dave@Example.com")
    assert invitation.invitee_email == "dave@example.com" and invitation.invitee_id is None
    assert invitations.pending_invitations_for(dave) == []
    with pytest.raises(OrgError, match="no such invitation"):
        invitations.accept_invitation(invitation.id, dave)
    mark_email_verified(dave.primary_email)
    assert [i.id for i in invitations.pending_invitations_for(dave)] == [invitation.id]
    invitations.accept_invitation(invitation.id, dave)
    assert services.role_of(org, dave) == "member"


def test_declined_invitation_makes_no_member(ctx, users):
    org, owner = make_org(users)
    bob = user(users, "bob")
    invitation = invitations.invite(org, owner, "bob")
    invitations.decline_invitation(invitation.id, bob)
    assert services.role_of(org, bob) is None
    with pytest.raises(OrgError, match="already answered"):
        invitations.accept_invitation(invitation.id, bob)
    # A new invitation can follow a declined one.
    invitations.invite(org, owner, "bob")


def test_only_the_invitee_answers(ctx, users):
    org, owner = make_org(users)
    bob, eve = user(users, "bob"), user(users, "eve")
    invitation = invitations.invite(org, owner, "bob")
    with pytest.raises(OrgError, match="no such invitation"):
        invitations.accept_invitation(invitation.id, eve)
    assert services.role_of(org, eve) is None


@pytest.mark.parametrize(
    "login, message",
    [("acme_owner", "yourself"), ("nobody", "no user"), ("", "Enter"), ("bob", "already a member"),
     ("ｂｏｂ", "already a member")],
)
def test_bad_invitations_change_nothing(ctx, users, login, message):
    org, owner = make_org(users)
    join(org, owner, user(users, "bob"))
    before = db.session.scalar(db.select(db.func.count()).select_from(Invitation))
    with pytest.raises(OrgError, match=message):
        invitations.invite(org, owner, login)
    assert db.session.scalar(db.select(db.func.count()).select_from(Invitation)) == before


def test_members_cannot_invite_and_admins_cannot_invite_owners(ctx, users):
    org, owner = make_org(users)
    bob, carol = user(users, "bob"), user(users, "carol")
    join(org, owner, bob)
    join(org, owner, carol, "admin")
    user(users, "dave")
    with pytest.raises(OrgError, match="permission"):
        invitations.invite(org, bob, "dave")
    with pytest.raises(OrgError, match="Only owners"):
        invitations.invite(org, carol, "dave", "owner")
    invitations.invite(org, carol, "dave", "admin")


def test_a_second_invitation_while_one_is_pending_is_refused(ctx, users):
    org, owner = make_org(users)
    user(users, "bob")
    invitations.invite(org, owner, "bob")
    with pytest.raises(OrgError, match="pending invitation"):
        invitations.invite(org, owner, "BOB")
    invitations.invite(org, owner, "bob@example.com")
    with pytest.raises(OrgError, match="pending invitation"):
        invitations.invite(org, owner, "Bob@Example.com")


def test_concurrent_invitations_make_exactly_one(app, users):
    with app.app_context():
        org, owner = make_org(users)
        user(users, "bob")
        org_id, owner_id = org.id, owner.id
    outcomes, barrier = [], threading.Barrier(6)

    def invite():
        with app.app_context():
            barrier.wait()
            try:
                invitations.invite(db.session.get(Organization, org_id), db.session.get(User, owner_id), "bob")
                outcomes.append("invited")
            except OrgError as error:
                outcomes.append(error.message)

    threads = [threading.Thread(target=invite) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("invited") == 1, outcomes
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Invitation)) == 1


def test_roles_change_and_the_last_owner_stays(ctx, users):
    org, owner = make_org(users)
    bob = user(users, "bob")
    join(org, owner, bob)
    with pytest.raises(OrgError, match="at least one owner"):
        services.change_role(org, owner, owner.id, "member")
    with pytest.raises(OrgError, match="at least one owner"):
        services.remove_member(org, owner, owner.id)
    with pytest.raises(OrgError, match="last owner"):
        services.leave(org, owner)
    services.change_role(org, owner, bob.id, "owner")
    services.change_role(org, owner, owner.id, "admin")
    assert services.role_of(org, owner) == "admin"
    with pytest.raises(OrgError, match="Only owners"):
        services.change_role(org, owner, bob.id, "member")
    with pytest.raises(OrgError, match="Unknown role"):
        services.change_role(org, bob, owner.id, "superuser")


def test_admins_manage_members_but_not_owners(ctx, users):
    org, owner = make_org(users)
    admin, bob = user(users, "carol"), user(users, "bob")
    join(org, owner, admin, "admin")
    join(org, owner, bob)
    services.change_role(org, admin, bob.id, "admin")
    services.change_role(org, admin, bob.id, "member")
    with pytest.raises(OrgError, match="Only owners"):
        services.change_role(org, admin, bob.id, "owner")
    with pytest.raises(OrgError, match="Only owners"):
        services.remove_member(org, admin, owner.id)
    with pytest.raises(OrgError, match="permission"):
        services.remove_member(org, bob, admin.id)
    services.remove_member(org, admin, bob.id)
    assert services.role_of(org, bob) is None


def test_a_member_leaves(ctx, users):
    org, owner = make_org(users)
    bob = user(users, "bob")
    join(org, owner, bob)
    services.leave(org, bob)
    assert services.role_of(org, bob) is None
    with pytest.raises(OrgError, match="not a member"):
        services.leave(org, bob)


def test_deleting_needs_an_owner_and_zero_balance_and_keeps_records(ctx, users):
    org, owner = make_org(users)
    admin = user(users, "carol")
    join(org, owner, admin, "admin")
    user(users, "bob")
    invitations.invite(org, owner, "bob")
    with pytest.raises(OrgError, match="permission"):
        services.delete_organization(org, admin)
    account = services.org_account(org)
    account.balance_fen = 1
    db.session.commit()
    with pytest.raises(OrgError, match="balance"):
        services.delete_organization(org, owner)
    assert services.find_org("acme") is not None
    account.balance_fen = 0
    db.session.commit()
    services.delete_organization(org, owner)
    assert services.find_org("acme") is None
    assert not can_view(account, owner)
    # Records stay for audit, the slug stays taken, and the pending invitation is withdrawn.
    assert db.session.get(Account, account.id) is not None
    assert db.session.scalar(db.select(db.func.count()).select_from(Membership)) == 2
    assert sorted(db.session.scalars(db.select(Invitation.state))) == ["accepted", "cancelled"]
    with pytest.raises(OrgError, match="taken"):
        services.create_organization(owner, "acme", "Again")


def test_two_owners_demoting_each_other_at_once_leave_one_owner(app, users):
    with app.app_context():
        org, owner = make_org(users)
        bob = user(users, "bob")
        join(org, owner, bob, "owner")
        pairs = [(owner.id, bob.id), (bob.id, owner.id)]
        org_id = org.id
    barrier, outcomes = threading.Barrier(2), []

    def demote(actor_id, target_id):
        with app.app_context():
            barrier.wait()
            try:
                services.change_role(db.session.get(Organization, org_id), db.session.get(User, actor_id),
                                     target_id, "member")
                outcomes.append("demoted")
            except OrgError as error:
                outcomes.append(error.message)

    threads = [threading.Thread(target=demote, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        owners = db.session.scalar(
            db.select(db.func.count()).select_from(Membership).filter_by(org_id=org_id, role="owner")
        )
    assert owners == 1, outcomes
    assert outcomes.count("demoted") == 1
