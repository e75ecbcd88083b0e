"""组织中心: the organization's own tabs and info, headings that agree with the navbar, a plain
member's 账户信息, and invitations that reach the invitee."""
from portal.extensions import db
from portal.orgs import invitations, services
from portal.users.models import User


def _client(app, users, username, **kwargs):
    client = app.test_client()
    users.create(username, **kwargs)
    users.sign_in(client, username)
    return client


def _acme(app, owner="alice", members=("bob",)):
    with app.app_context():
        alice = db.session.scalar(db.select(User).filter_by(username=owner))
        org = services.create_organization(alice, "acme", "Acme 云")
        for name in members:
            user = db.session.scalar(db.select(User).filter_by(username=name))
            invitations.accept_invitation(invitations.invite(org, alice, name).id, user)


def test_the_organization_center_has_its_own_tabs_and_agrees_with_the_navbar(app, users):
    alice = _client(app, users, "alice")
    _client(app, users, "bob")
    _acme(app)
    page = alice.get("/orgs/acme").get_data(as_text=True)
    assert 'data-center="org"' in page and 'id="center-org-name">Acme 云<' in page
    tabs = page.split('id="center-tabs"')[1].split("</ul>")[0]
    for endpoint in ("orgs.profile", "orgs.members", "accounts.info", "billing.history", "accounts.plan"):
        assert f'data-endpoint="{endpoint}"' in tabs
    assert "users.emails" not in tabs
    # The navbar names the organization (not its slug) as the current account.
    navbar = page.split("</nav>")[0]
    assert 'data-account-kind="org"' in navbar and "Acme 云" in navbar
    # 账户信息 and 交易记录 now stay in the organization center.
    for url in ("/account/info", "/billing/history", "/account/plan"):
        assert 'data-center="org"' in alice.get(url).get_data(as_text=True), url
    # The user center keeps the person's tabs and offers the personal account.
    profile = alice.get("/user/profile").get_data(as_text=True)
    assert 'data-center="user"' in profile and 'id="personal-account-tab"' in profile
    assert 'data-endpoint="accounts.info"' not in profile


def test_owners_and_admins_edit_the_organization_info_members_only_read_it(app, users):
    alice = _client(app, users, "alice")
    bob = _client(app, users, "bob")
    _acme(app)
    response = alice.submit("/orgs/acme", {"name": "Acme 新名", "description": "云原生团队",
                                           "avatar_url": "https://example.com/a.png"})
    assert response.status_code == 302
    page = bob.get("/orgs/acme").get_data(as_text=True)
    assert "Acme 新名" in page and "云原生团队" in page and 'id="org-profile-readonly"' in page
    assert bob.submit("/orgs/acme", {"name": "Hijacked"}, page="/orgs/acme").status_code == 403
    refused = alice.submit("/orgs/acme", {"name": "Acme", "avatar_url": "http://example.com/a.png"})
    assert refused.status_code == 400 and "https://" in refused.get_data(as_text=True)


def test_a_plain_member_sees_no_recharge_and_who_can(app, users):
    _client(app, users, "alice")
    bob = _client(app, users, "bob")
    _acme(app)
    bob.get("/orgs/acme")
    info = bob.get("/account/info").get_data(as_text=True)
    assert 'id="recharge-link"' not in info
    assert 'id="who-can-recharge"' in info and "alice" in info.split('id="who-can-recharge"')[1][:300]


def test_an_invitee_sees_a_navbar_count_until_they_answer(app, users):
    alice = _client(app, users, "alice")
    bob = _client(app, users, "bob", email="bob@example.com")
    _acme(app, members=())
    assert alice.submit("/orgs/acme/invitations", {"login": "bob"}, page="/orgs/acme/members").status_code == 302
    page = bob.get("/user/profile").get_data(as_text=True)
    assert 'id="invitation-count"' in page and ">1</span>" in page.split('id="invitation-count"')[1][:200]
    with app.app_context():
        bob_user = db.session.scalar(db.select(User).filter_by(username="bob"))
        invitation_id = invitations.pending_invitations_for(bob_user)[0].id
    bob.submit(f"/orgs/invitations/{invitation_id}/decline", page="/orgs/invitations")
    assert 'id="invitation-count"' not in bob.get("/user/profile").get_data(as_text=True)


def test_removing_a_member_and_leaving_go_through_a_confirmation_page(app, users):
    alice = _client(app, users, "alice")
    bob = _client(app, users, "bob")
    _acme(app)
    members = alice.get("/orgs/acme/members").get_data(as_text=True)
    assert 'data-remove="bob"' in members and "members/remove\" method" not in members
    with app.app_context():
        bob_id = db.session.scalar(db.select(User.id).filter_by(username="bob"))
    confirm = alice.get(f"/orgs/acme/members/remove?user_id={bob_id}").get_data(as_text=True)
    assert 'id="confirm-submit"' in confirm and "bob" in confirm
    assert 'id="confirm-submit"' in bob.get("/orgs/acme/leave").get_data(as_text=True)
