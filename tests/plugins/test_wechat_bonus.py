"""The WeChat bonus: 2 projects, 1 container instance and 1 service instance on the personal
account, once per portal user and once per WeChat account, ever (seen in 账户信息's quota table)."""
import hashlib
import re
import threading

import pytest

from portal_devkit.testing.contract import ProviderBrowser

QUOTA_ROW = re.compile(r'<tr data-resource="(\w+)">\s*<td>.*?</td>\s*<td class="text-end">(\d+)</td>', re.S)
BONUS = {"projects": 2, "containers": 1, "services": 1}


@pytest.fixture
def portal_config(portal_config, sandbox):
    return {**portal_config, "PLUGINS_ENABLED": ["wechat", "qq", "wechat_bonus"]}


def limits(client) -> dict[str, int]:
    """The Limit column of the quota table on the account info page."""
    page = client.get("/account/info")
    assert page.status_code == 200
    return {resource: int(limit) for resource, limit in QUOTA_ROW.findall(page.get_data(as_text=True))}


def plus_bonus(before: dict, times: int = 1) -> dict:
    return {key: value + times * BONUS.get(key, 0) for key, value in before.items()}


def unlink(browser, provider="wechat"):
    assert browser.client.submit(f"/identities/{provider}/unlink", page="/identities/").status_code == 302


@pytest.fixture
def member(users):
    client, _ = users.signed_in_client()
    return ProviderBrowser(client)


def test_linking_wechat_grants_the_bonus_once(member):
    before = limits(member.client)
    assert set(BONUS) <= set(before)
    assert member.link("wechat", "zhang").status_code == 302
    assert limits(member.client) == plus_bonus(before)
    unlink(member)
    assert member.link("wechat", "zhang").status_code == 302
    assert limits(member.client) == plus_bonus(before), "relinking grants nothing more"


def test_another_wechat_account_for_the_same_user_grants_nothing(member):
    before = limits(member.client)
    assert member.link("wechat", "zhang").status_code == 302
    unlink(member)
    assert member.link("wechat", "li").status_code == 302
    assert limits(member.client) == plus_bonus(before)


def test_moving_the_wechat_account_to_another_user_grants_nothing_there(member, users):
    assert member.link("wechat", "zhang").status_code == 302
    unlink(member)
    client, _ = users.signed_in_client()
    other = ProviderBrowser(client)
    before = limits(other.client)
    assert other.link("wechat", "zhang").status_code == 302
    assert limits(other.client) == before
    # Nothing was spent on the other user either: their own first WeChat account still counts.
    unlink(other)
    assert other.link("wechat", "li").status_code == 302
    assert limits(other.client) == plus_bonus(before)


def test_signing_up_with_wechat_grants_the_bonus(app, users):
    baseline = limits(users.signed_in_client()[0])
    newcomer = ProviderBrowser(app.test_client())
    assert newcomer.sign_in("wechat", "wang").status_code == 302
    assert limits(newcomer.client) == plus_bonus(baseline)


def test_linking_qq_grants_nothing(member):
    before = limits(member.client)
    assert member.link("qq").status_code == 302
    assert limits(member.client) == before


def test_the_bonus_is_recorded_under_both_keys(app, member):
    from portal.accounts.models import QuotaBonus
    from portal.extensions import db
    from portal.identities.models import Identity

    assert member.link("wechat", "zhang").status_code == 302
    with app.app_context():
        identity = db.session.scalar(db.select(Identity).filter_by(provider="wechat"))
        keys = set(db.session.scalars(db.select(QuotaBonus.key)))
        digest = hashlib.sha256(identity.subject.encode()).hexdigest()
        assert keys == {f"wechat-bonus:user:{identity.user_id}", f"wechat-bonus:wechat:{digest}"}


def test_two_users_linking_the_same_wechat_account_at_once_get_one_bonus(app, users):
    from portal.accounts.models import QuotaBonus
    from portal.extensions import db

    browsers = [ProviderBrowser(users.signed_in_client()[0]) for _ in range(2)]
    before = [limits(b.client) for b in browsers]
    locations = [b.consent(b.start("wechat"), "zhang") for b in browsers]
    statuses = {}

    def finish(index):
        statuses[index] = browsers[index].back_to_portal(locations[index]).status_code

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [302, 409]
    winner = next(i for i, status in statuses.items() if status == 302)
    after = [limits(b.client) for b in browsers]
    assert after[winner] == plus_bonus(before[winner]) and after[1 - winner] == before[1 - winner]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(QuotaBonus)) == 2


class TestTurnedOff:
    @pytest.fixture
    def portal_config(self, portal_config):
        return {**portal_config, "PLUGINS_DISABLED": ("wechat_bonus",)}

    def test_operators_can_turn_the_bonus_off(self, member):
        before = limits(member.client)
        assert member.link("wechat", "zhang").status_code == 302
        assert limits(member.client) == before
