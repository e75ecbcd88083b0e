"""The WeChat bonus is visible: 第三方账户 advertises it before linking, the link that grants it says
so, it shows as received afterwards (unlinking keeps it), and 账户信息 shows plan and bonus apart."""
import re

import pytest

from portal_devkit.testing.contract import ProviderBrowser

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
GIFT = "两个项目、一个容器实例和一个服务实例"


@pytest.fixture
def portal_config(portal_config, sandbox):
    return {**portal_config, "PLUGINS_ENABLED": ["wechat", "qq", "wechat_bonus"]}


@pytest.fixture
def member(users):
    client, _ = users.signed_in_client()
    return ProviderBrowser(client)


def row(page: str, provider: str) -> str:
    return page.split(f'data-provider="{provider}"')[1].split("</tr>")[0]


def identities_page(client, headers=ZH) -> str:
    return client.get("/identities/", headers=headers).get_data(as_text=True)


def quota_parts(client, headers=ZH) -> dict[str, str]:
    page = client.get("/account/info", headers=headers).get_data(as_text=True)
    found = re.findall(r'<tr data-resource="(\w+)">.*?<td class="text-end text-nowrap portal-quota-parts">(.*?)</td>',
                       page, re.S)
    return {resource: " ".join(text.split()) for resource, text in found}


def test_the_bonus_is_advertised_beside_wechat_before_linking(member):
    page = identities_page(member.client)
    assert f"绑定即赠送{GIFT}。" in row(page, "wechat")
    assert "portal-perk" not in row(page, "qq")
    english = identities_page(member.client, EN)
    assert "Link it to get 2 projects, 1 container instance and 1 service instance." in row(english, "wechat")


def test_linking_names_the_gift_and_the_page_shows_it_received(member):
    assert member.link("wechat", "zhang").status_code == 302
    page = identities_page(member.client)
    assert f"绑定成功，已获赠{GIFT}。" in page
    assert f"已获赠{GIFT}" in row(page, "wechat") and "绑定即赠送" not in page
    # The message is said once.
    assert "绑定成功" not in identities_page(member.client)


def test_the_quota_table_shows_plan_and_bonus_apart(member):
    assert quota_parts(member.client) == {}, "no bonus, no breakdown"
    member.link("wechat", "zhang")
    parts = quota_parts(member.client)
    assert re.fullmatch(r"套餐 \d+ \+ 赠送 2", parts["projects"])
    assert parts["containers"].endswith("+ 赠送 1") and parts["services"].endswith("+ 赠送 1")
    assert re.fullmatch(r"\d+ plan \+ 2 bonus", quota_parts(member.client, EN)["projects"])


def test_unlinking_says_the_bonus_stays_and_keeps_it(member):
    member.link("wechat", "zhang")
    confirm = member.client.get("/identities/wechat/unlink", headers=ZH).get_data(as_text=True)
    assert f"绑定时获赠的{GIFT}不会收回。" in confirm.split('id="confirm"')[1]
    parts = quota_parts(member.client)

    assert member.client.submit("/identities/wechat/unlink").status_code == 302

    assert quota_parts(member.client) == parts
    page = identities_page(member.client)
    assert f"已获赠{GIFT}" in row(page, "wechat") and "绑定即赠送" not in page
    # Linking again grants nothing more, so it says nothing about a gift.
    member.link("wechat", "zhang")
    assert "绑定成功，已获赠" not in identities_page(member.client)


def test_signing_up_with_wechat_names_the_gift(app):
    newcomer = ProviderBrowser(app.test_client())
    assert newcomer.sign_in("wechat", "wang").status_code == 302
    page = newcomer.client.get("/identities/", headers=ZH).get_data(as_text=True)
    assert f"绑定成功，已获赠{GIFT}。" in page


def test_the_hook_answers_per_provider(app, users):
    from portal.extensions import db
    from portal.plugins import hook
    from portal.users.models import User

    _, user_id = users.signed_in_client()
    with app.test_request_context():
        user = db.session.get(User, user_id)
        answers = hook().portal_identity_perks(user=user, provider="wechat")
        assert [[perk.granted for perk in answer] for answer in answers if answer] == [[False]]
        assert not any(hook().portal_identity_perks(user=user, provider="qq"))
