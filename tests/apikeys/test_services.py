"""Creating and revoking keys: the rules, whatever page or command asks."""

from __future__ import annotations

import pytest

from portal.apikeys import services
from portal.apikeys.models import ApiKey
from portal.apikeys.services import ApiKeyError
from portal.extensions import db
from portal.users.models import User


@pytest.fixture
def alice(app, users):
    user_id = users.create("alice")
    with app.app_context():
        yield db.session.get(User, user_id)


def test_a_key_is_stored_as_a_hash_with_its_settings(app, alice):
    key, secret = services.create_key(alice, "  deploy-bot ", ["usage"], 90, None, "10.1.2.3/8\n2001:db8::1")
    row = db.session.get(ApiKey, key.id)
    assert row.name == "deploy-bot"
    assert row.scopes == "read usage"
    assert (row.expires_at - row.created_at).days == 90
    assert row.allowed_networks == ["10.0.0.0/8", "2001:db8::1/128"]
    assert secret.startswith(row.display_prefix)
    stored = " ".join(str(getattr(row, column.key)) for column in ApiKey.__table__.columns)
    assert secret not in stored and secret[11:43] not in stored


def test_a_key_may_never_expire(app, alice):
    key, _ = services.create_key(alice, "forever", ["read"], None)
    assert key.expires_at is None


@pytest.mark.parametrize(
    "args, field",
    [
        (("", ["read"], 90), "name"),
        (("x" * 65, ["read"], 90), "name"),
        (("k", [], 90), "scopes"),
        (("k", ["admin"], 90), "scopes"),
        (("k", ["read"], 3), "lifetime"),
        (("k", ["read"], "90"), "lifetime"),
    ],
)
def test_bad_settings_name_their_field(app, alice, args, field):
    with pytest.raises(ApiKeyError) as refused:
        services.create_key(alice, *args)
    assert refused.value.field == field
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiKey)) == 0


@pytest.mark.parametrize(
    "networks", ["10.0.0.0/33", "example.com", "300.1.1.1", "; ".join(["10.0.0.1"] * 17)]
)
def test_bad_ip_ranges_are_refused(app, alice, networks):
    with pytest.raises(ApiKeyError) as refused:
        services.create_key(alice, "k", ["read"], 90, None, networks)
    assert refused.value.field == "networks"


def test_a_key_can_be_limited_only_to_accounts_the_user_manages(app, users, alice):
    from portal.accounts.access import personal_account
    from portal.orgs import invitations
    from portal.orgs import services as orgs

    own = personal_account(alice).id
    assert services.create_key(alice, "mine", ["read"], 90, own)[0].account_id == own
    boss = db.session.get(User, users.create("boss"))
    org = orgs.create_organization(boss, "acme", "Acme")
    invitations.accept_invitation(invitations.invite(org, boss, "alice", "member").id, alice)
    stranger = personal_account(db.session.get(User, users.create("stranger"))).id
    for account_id in (orgs.org_account(org).id, stranger, 999999):
        with pytest.raises(ApiKeyError) as refused:
            services.create_key(alice, "theirs", ["read"], 90, account_id)
        assert refused.value.field == "account"
    orgs.change_role(org, boss, alice.id, "admin")
    assert services.create_key(alice, "org", ["read"], 90, orgs.org_account(org).id)[0].account_id


def test_active_keys_are_limited(app, alice):
    for n in range(services.MAX_ACTIVE_KEYS_PER_USER):
        services.create_key(alice, f"k{n}", ["read"], 7)
    with pytest.raises(ApiKeyError):
        services.create_key(alice, "one too many", ["read"], 7)
    services.revoke_key(alice, services.keys_of(alice)[0])
    services.create_key(alice, "room again", ["read"], 7)


def test_revoking_is_once_and_only_by_the_owner(app, users, alice):
    key, _ = services.create_key(alice, "k", ["read"], 90)
    mallory = db.session.get(User, users.create("mallory"))
    with pytest.raises(ApiKeyError):
        services.revoke_key(mallory, key)
    assert services.revoke_key(alice, key) is True
    assert services.revoke_key(alice, key) is False
    assert key.revoked_reason == "user"
