"""The organization center in the browser: create, invite, accept, switch, manage, leave, delete."""
import re

import pytest

from portal.extensions import db
from portal.orgs import invitations, services
from portal.orgs.models import Invitation, Membership, Organization
from portal.users.models import User


def signed_in(app, users, username):
    client = app.test_client()
    users.create(username)
    users.sign_in(client, username)
    return client


def invitation_id(app, username):
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username=username))
        return invitations.pending_invitations_for(user)[0].id


def role(app, slug, username):
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username=username))
        return services.role_of(services.find_org(slug), user)


def test_create_invite_accept_switch_and_change_roles(app, users):
    alice = signed_in(app, users, "alice")
    bob = signed_in(app, users, "bob")

    response = alice.submit("/orgs/new", {"slug": "acme", "name": "Acme Inc."})
    assert response.status_code == 302 and response.location.endswith("/orgs/acme/members")
    page = alice.get("/orgs/acme/members").get_data(as_text=True)
    assert "Acme Inc." in page and "alice" in page

    response = alice.submit("/orgs/acme/invitations", {"login": "bob", "role": "member"}, page="/orgs/acme/members")
    assert response.status_code == 302
    assert "bob" in alice.get("/orgs/acme/members").get_data(as_text=True)

    pending = bob.get("/orgs/invitations").get_data(as_text=True)
    assert "acme" in pending
    response = bob.submit(f"/orgs/invitations/{invitation_id(app, 'bob')}/accept", page="/orgs/invitations")
    assert response.status_code == 302
    assert role(app, "acme", "bob") == "member"

    # Bob switches to the organization's account and sees its info with the trial quota.
    with app.app_context():
        account_id = services.org_account(services.find_org("acme")).id
    response = bob.submit("/account/switch", {"account_id": account_id}, page="/account/info")
    assert response.status_code == 302
    info = bob.get("/account/info").get_data(as_text=True)
    assert 'id="acting-account"' in info and "acme" in info
    assert re.search(r'data-resource="projects">.*?<td class="text-end">3</td>', info, re.S)
    # (yuan: "¥0.00"; the sign may be left to the page when billing formats amounts too)
    assert re.search(r"id=\"balance\">¥?0\.00<", info)

    # Alice makes Bob an admin; Bob, now an admin, may invite.
    response = alice.submit("/orgs/acme/members/role", {"user_id": _id(app, "bob"), "role": "admin"},
                            page="/orgs/acme/members")
    assert response.status_code == 302
    assert role(app, "acme", "bob") == "admin"
    users.create("carol")
    response = bob.submit("/orgs/acme/invitations", {"login": "carol@example.com", "role": "member"},
                          page="/orgs/acme/members")
    assert response.status_code == 302


def _id(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User.id).filter_by(username=username))


@pytest.mark.parametrize(
    "slug, name, message",
    [("my org", "Acme", "only letters"), ("аcme", "Acme", "no other scripts"), ("admin", "Acme", "reserved"),
     ("acme", "x" * 200, "at most 64"), ("", "Acme", "Enter a slug")],
)
def test_bad_organizations_are_refused_with_a_reason(app, users, slug, name, message):
    alice = signed_in(app, users, "alice")
    response = alice.submit("/orgs/new", {"slug": slug, "name": name})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Organization)) == 0


@pytest.fixture
def acme(app, users):
    """alice owns acme; bob is a member."""
    alice = signed_in(app, users, "alice")
    alice.submit("/orgs/new", {"slug": "acme", "name": "Acme"})
    bob = signed_in(app, users, "bob")
    alice.submit("/orgs/acme/invitations", {"login": "bob"}, page="/orgs/acme/members")
    bob.submit(f"/orgs/invitations/{invitation_id(app, 'bob')}/accept", page="/orgs/invitations")
    return alice, bob


@pytest.mark.parametrize(
    "login, message",
    [("alice", "cannot invite yourself"), ("ghost", "no user with that"), ("bob", "already a member")],
)
def test_bad_invitations_say_why_and_change_nothing(app, acme, login, message):
    alice, _ = acme
    with app.app_context():
        before = db.session.scalar(db.select(db.func.count()).select_from(Invitation))
    response = alice.submit("/orgs/acme/invitations", {"login": login}, page="/orgs/acme/members")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Invitation)) == before


def test_the_last_owner_cannot_demote_remove_or_leave(app, acme):
    alice, _ = acme
    for url, data in [
        ("/orgs/acme/members/role", {"user_id": _id(app, "alice"), "role": "member"}),
        ("/orgs/acme/members/remove", {"user_id": _id(app, "alice")}),
        ("/orgs/acme/leave", {}),
    ]:
        response = alice.submit(url, data, page="/orgs/acme/members")
        assert response.status_code == 400, url
        assert "owner" in response.get_data(as_text=True)
    assert role(app, "acme", "alice") == "owner"


def test_declining_and_leaving(app, acme, users):
    alice, bob = acme
    carol = signed_in(app, users, "carol")
    alice.submit("/orgs/acme/invitations", {"login": "carol"}, page="/orgs/acme/members")
    response = carol.submit(f"/orgs/invitations/{invitation_id(app, 'carol')}/decline", page="/orgs/invitations")
    assert response.status_code == 302
    assert role(app, "acme", "carol") is None
    assert bob.submit("/orgs/acme/leave", page="/orgs/acme/members").status_code == 302
    assert role(app, "acme", "bob") is None
    assert bob.get("/orgs/acme/members").status_code == 404


def test_someone_elses_invitation_is_not_found(app, acme, users):
    alice, _ = acme
    users.create("carol")
    alice.submit("/orgs/acme/invitations", {"login": "carol"}, page="/orgs/acme/members")
    eve = signed_in(app, users, "eve")
    response = eve.submit(f"/orgs/invitations/{invitation_id(app, 'carol')}/accept", page="/orgs/invitations")
    assert response.status_code == 404
    assert role(app, "acme", "eve") is None


def test_delete_needs_the_slug_typed_and_hides_the_org(app, acme):
    alice, bob = acme
    response = alice.submit("/orgs/acme/delete", {"confirm": "acm"})
    assert response.status_code == 400
    assert alice.submit("/orgs/acme/delete", {"confirm": "acme"}).status_code == 302
    assert alice.get("/orgs/acme/members").status_code == 404
    assert bob.get("/orgs/acme/members").status_code == 404
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Membership)) == 2


def test_pages_need_sign_in(client):
    assert client.get("/orgs/").status_code == 302
    assert client.get("/account/info").status_code == 302
