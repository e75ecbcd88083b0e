"""账户信息, the switcher and plans in the browser, and who may do what (the permission matrix)."""
import re

import pytest
import sqlalchemy as sa

from portal.accounts import quotas
from portal.accounts.access import personal_account
from portal.accounts.formatting import yuan
from portal.accounts.models import Account
from portal.extensions import db
from portal.orgs import invitations
from portal.orgs import services as orgs
from portal.users.models import User
from tests.statements import recorded_statements

PLANS = {"starter": {"name": "Starter", "price_fen": 0, "quotas": {"projects": 10, "containers": 20, "services": 10}},
         "standard": {"name": "Standard", "price_fen": 9900, "quotas": {"projects": 50}}}


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLANS": PLANS}


def _user(username):
    return db.session.scalar(db.select(User).filter_by(username=username))


@pytest.fixture
def world(app, users):
    """Org acme (alice owner, carol admin, bob member) and org other (olga owner); eve is in neither."""
    clients = {}
    for name in ("alice", "carol", "bob", "olga", "eve"):
        clients[name] = app.test_client()
        users.create(name)
        users.sign_in(clients[name], name)
    with app.app_context():
        acme = orgs.create_organization(_user("alice"), "acme", "Acme")
        for name, role in (("carol", "admin"), ("bob", "member")):
            invitations.accept_invitation(invitations.invite(acme, _user("alice"), name, role).id, _user(name))
        other = orgs.create_organization(_user("olga"), "other", "Other")
        accounts = {"acme": orgs.org_account(acme).id, "other": orgs.org_account(other).id}
        for name in ("alice", "carol", "bob", "olga", "eve"):
            accounts[name] = personal_account(_user(name)).id
    return clients, accounts


def test_yuan_formats_integer_fen():
    assert yuan(0) == "¥0.00"
    assert yuan(1234) == "¥12.34"
    assert yuan(5) == "¥0.05"
    assert yuan(123456789) == "¥1,234,567.89"
    assert yuan(-5) == "-¥0.05"


def test_personal_account_info_by_default(app, world):
    clients, accounts = world
    with app.app_context():
        db.session.execute(sa.update(Account).where(Account.id == accounts["bob"]).values(balance_fen=1234))
        db.session.commit()
    page = clients["bob"].get("/account/info").get_data(as_text=True)
    assert re.search(r"id=\"balance\">¥?12\.34<", page) and 'id="acting-account"' in page and "bob" in page
    assert "Trial" in page or "试用" in page


def test_switcher_lists_personal_and_org_accounts(app, world):
    clients, accounts = world
    page = clients["bob"].get("/account/info").get_data(as_text=True)
    assert f'value="{accounts["bob"]}"' in page and f'value="{accounts["acme"]}"' in page
    assert f'value="{accounts["other"]}"' not in page


def test_switching_to_an_account_you_cannot_see_is_not_found(app, world):
    clients, accounts = world
    for target in (accounts["other"], accounts["alice"], 999999, "abc"):
        response = clients["bob"].submit("/account/switch", {"account_id": target}, page="/account/info")
        assert response.status_code == 404, target


def test_switch_goes_back_only_to_local_pages(app, world):
    clients, accounts = world
    response = clients["bob"].submit("/account/switch", {"account_id": accounts["acme"], "next": "https://evil.example/"},
                                     page="/account/info")
    assert response.location.endswith("/account/info")
    response = clients["bob"].submit("/account/switch", {"account_id": accounts["acme"], "next": "/orgs/"},
                                     page="/account/info")
    assert response.location.endswith("/orgs/")


def test_a_removed_member_falls_back_to_the_personal_account(app, world):
    clients, accounts = world
    clients["bob"].submit("/account/switch", {"account_id": accounts["acme"]}, page="/account/info")
    with app.app_context():
        orgs.remove_member(orgs.find_org("acme"), _user("alice"), _user("bob").id)
    page = clients["bob"].get("/account/info").get_data(as_text=True)
    assert re.search(r'id="acting-account".*?<strong[^>]*>bob</strong>', page, re.S)


def test_recharge_button_for_owners_and_admins_when_billing_offers_it(app, world):
    clients, accounts = world
    offered = "billing.recharge" in app.view_functions
    for name in ("alice", "carol", "bob"):
        clients[name].submit("/account/switch", {"account_id": accounts["acme"]}, page="/account/info")
        page = clients[name].get("/account/info").get_data(as_text=True)
        assert ('href="/billing/recharge"' in page) == (offered and name != "bob"), name


def test_plan_change_in_the_browser(app, world):
    clients, accounts = world
    response = clients["alice"].submit("/account/plan", {"plan": "starter", "confirm": "1"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Account, accounts["alice"]).plan_key == "starter"
    response = clients["alice"].submit("/account/plan", {"plan": "standard", "confirm": "1"})
    assert response.status_code == 400
    assert "recharge first" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Account, accounts["alice"]).plan_key == "starter"


# The permission matrix: every route, for the owner, an admin, a member and an outsider of acme,
# acting on acme (its account made current when they can see it).
ROLES = {"alice": "owner", "carol": "admin", "bob": "member", "eve": "outsider", "olga": "outsider"}
EXPECTED = {
    # route: {role: status}
    ("GET", "/account/info"): {"owner": 200, "admin": 200, "member": 200},
    ("GET", "/account/plan"): {"owner": 200, "admin": 200, "member": 200},
    ("POST", "/account/plan"): {"owner": 302, "admin": 302, "member": 403},
    # Without a plan named, the confirmation step sends managers back to the list.
    ("GET", "/account/plan/confirm"): {"owner": 302, "admin": 302, "member": 403},
    ("POST", "/account/plan/keep"): {"owner": 302, "admin": 302, "member": 403},
    ("POST", "/account/switch"): {"owner": 302, "admin": 302, "member": 302, "outsider": 404},
    ("GET", "/orgs/acme"): {"owner": 200, "admin": 200, "member": 200, "outsider": 404},
    ("POST", "/orgs/acme"): {"owner": 302, "admin": 302, "member": 403, "outsider": 404},
    ("GET", "/orgs/acme/leave"): {"owner": 200, "admin": 200, "member": 200, "outsider": 404},
    ("GET", "/orgs/acme/members"): {"owner": 200, "admin": 200, "member": 200, "outsider": 404},
    ("POST", "/orgs/acme/invitations"): {"owner": 302, "admin": 302, "member": 403, "outsider": 404},
    ("POST", "/orgs/acme/invitations/{invitation}/cancel"): {"owner": 302, "admin": 302, "member": 403,
                                                             "outsider": 404},
    ("POST", "/orgs/acme/members/role"): {"owner": 302, "admin": 302, "member": 403, "outsider": 404},
    ("POST", "/orgs/acme/members/remove"): {"owner": 302, "admin": 302, "member": 403, "outsider": 404},
    ("POST", "/orgs/acme/leave"): {"owner": 400, "admin": 302, "member": 302, "outsider": 404},
    ("GET", "/orgs/acme/delete"): {"owner": 200, "admin": 403, "member": 403, "outsider": 404},
    ("POST", "/orgs/acme/delete"): {"owner": 302, "admin": 403, "member": 403, "outsider": 404},
}


@pytest.mark.parametrize("method, route", list(EXPECTED))
@pytest.mark.parametrize("actor", ["alice", "carol", "bob", "eve", "olga"])
def test_permission_matrix(app, world, users, actor, method, route):
    clients, accounts = world
    client, role = clients[actor], ROLES[actor]
    with app.app_context():
        acme = orgs.find_org("acme")
        users.create("dave")
        invitation = invitations.invite(acme, _user("alice"), "dave").id
        users.create("fred")
        invitations.accept_invitation(invitations.invite(acme, _user("alice"), "fred").id, _user("fred"))
    # Those who can see acme act on it; outsiders keep their personal account.
    client.submit("/account/switch", {"account_id": accounts["acme"]}, page="/orgs/")
    data = {
        "/account/plan": {"plan": "starter", "confirm": "1"},
        "/account/switch": {"account_id": accounts["acme"]},
        "/orgs/acme/invitations": {"login": "olga" if actor != "olga" else "eve"},
        "/orgs/acme/members/role": {"user_id": _id(app, "fred"), "role": "admin"},
        "/orgs/acme/members/remove": {"user_id": _id(app, "fred")},
        "/orgs/acme/delete": {"confirm": "acme"},
        "/orgs/acme": {"name": "Acme 云", "description": "我们的团队", "avatar_url": ""},
    }.get(route, {})
    url = route.format(invitation=invitation)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.submit(url, data, page="/orgs/")
    expected = EXPECTED[(method, route)].get(role)
    if expected is None:
        # Account pages act on the current account: outsiders see their own, never acme's.
        assert response.status_code in (200, 302, 403)
        assert "acme" not in response.get_data(as_text=True).split('id="acting-account"')[-1][:400]
        return
    assert response.status_code == expected, response.get_data(as_text=True)[:2000]


def _id(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User.id).filter_by(username=username))


def test_every_route_is_in_the_matrix(app):
    ours = {
        rule.rule for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("orgs.", "accounts."))
    }
    covered = {route.replace("{invitation}", "<id:invitation_id>") for _, route in EXPECTED}
    covered = {r.replace("/acme/", "/<slug>/").replace("/orgs/acme", "/orgs/<slug>") for r in covered}
    # Routes without an organization in them, tested elsewhere for everyone who is signed in.
    covered |= {"/orgs/", "/orgs/new", "/orgs/invitations",
                "/orgs/invitations/<id:invitation_id>/<any(accept, decline):answer>"}
    assert ours <= covered, ours - covered


def test_account_info_sql_count_does_not_grow_with_members(app, users):
    """Report: the statement count of 账户信息 for an organization with 50 members."""
    owner = app.test_client()
    users.create("boss")
    users.sign_in(owner, "boss")
    with app.app_context():
        org = orgs.create_organization(_user("boss"), "big", "Big")
        account_id = orgs.org_account(org).id
        quotas.use(account_id, "projects", 2)
        db.session.commit()
    owner.submit("/account/switch", {"account_id": account_id}, page="/orgs/")

    def count_statements():
        with recorded_statements(app) as statements:
            response = owner.get("/account/info")
        assert response.status_code == 200
        return len(statements)

    with_one = count_statements()
    with app.app_context():
        org = orgs.find_org("big")
        boss = _user("boss")
        for i in range(49):
            member = db.session.get(User, users.create(f"member{i:02d}"))
            invitations.accept_invitation(invitations.invite(org, boss, member.username).id, member)
    with_fifty = count_statements()
    print(f"\naccount-info SQL statements: 1 member {with_one}, 50 members {with_fifty}")
    assert with_fifty == with_one
    assert with_fifty <= 12


def test_account_info_in_chinese(app, world):
    clients, accounts = world
    clients["bob"].submit("/account/switch", {"account_id": accounts["acme"]}, page="/account/info")
    page = clients["bob"].get("/account/info", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    for words in ("组织账户", "账户余额", "账户配额", "项目", "容器实例", "服务实例", "剩余", "试用套餐"):
        assert words in page, words
