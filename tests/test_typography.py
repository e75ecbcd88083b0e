"""Chinese typography in every Chinese text the portal shows: the zh_CN catalog, templates and the
zh texts bundled plugins (and the core) give as {"zh_CN": ...}.

The rules, checked on each text:

- Full-width punctuation in Chinese text: an ASCII ``: , ; ? ! ( )`` directly before or after a
  Chinese character is an error (项目：3, not 项目:3; 用户中心（API 密钥）, not 用户中心(API 密钥)).
  ASCII punctuation between Latin words stays (请求头：Authorization: Bearer)。
- A space between Chinese and Latin: a Chinese character directly touching a Latin letter or digit
  is an error (已绑定 GitHub 账户, 10 分钟, not 已绑定GitHub账户, 10分钟). Full-width punctuation
  needs no space (（GitHub）).
- Placeholders (``%(name)s``, ``{name}``) are exempt from the spacing rule: their value may be
  Chinese (微信, 支付宝, 项目) or Latin (GitHub, Portal, a date), so the catalog writes them either
  way and formatting decides. ``portal.i18n.gettext`` (and the templates' ``_``) put a space where a
  substituted value meets Chinese with a Latin edge and none where it is Chinese:
  已绑定%(provider)s账户 gives 已绑定 GitHub 账户 and 已绑定微信账户; a space the catalog already
  writes is kept. The punctuation rule applies around placeholders as anywhere else.

Templates should hold no Chinese at all outside {# comments #}: shown text is marked for
translation and lives in the catalog.
"""
from __future__ import annotations

import ast
import re

import pytest
from babel.messages.pofile import read_po

from portal import ROOT
from portal.i18n import CJK, spaced_format

CATALOG = ROOT / "portal" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[#0 +-]*\d*(?:\.\d+)?[sdifr]|\{\w*\}")
HALF_WIDTH_PUNCTUATION = re.compile(f"[{CJK}][:,;?!()]|[:,;?!()][{CJK}]")
NO_SPACE = re.compile(f"[{CJK}][A-Za-z0-9]|[A-Za-z0-9][{CJK}]")
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)


def typography_errors(text: str) -> list[str]:
    """What is wrong with one Chinese text, each as the offending pair of characters."""
    errors = [f"half-width {m[0]!r}" for m in HALF_WIDTH_PUNCTUATION.finditer(text)]
    # A placeholder stands in for a value of either script: take it out of the spacing rule.
    unplaced = PLACEHOLDER.sub("\x00", text)
    errors += [f"no space in {m[0]!r}" for m in NO_SPACE.finditer(unplaced)]
    return errors


def _report(found: list[str]) -> str:
    return f"{len(found)} Chinese typography errors:\n" + "\n".join(found)


def test_the_rules_catch_what_they_should_and_only_that():
    assert typography_errors("项目:3") == ["half-width '目:'"]
    assert typography_errors("(GitHub)账户") == ["half-width ')账'"]
    assert typography_errors("已绑定GitHub账户") == ["no space in '定G'", "no space in 'b账'"]
    assert typography_errors("10分钟内有效") == ["no space in '0分'"]
    assert typography_errors("项目：3，已绑定 GitHub 账户（Alice）。") == []
    assert typography_errors("请求头：Authorization: Bearer <密钥>。") == []
    assert typography_errors("已绑定%(provider)s账户，%(n)d 个") == []
    assert typography_errors("已绑定%(provider)s账户,") == ["half-width '户,'"]


def test_the_catalog_follows_chinese_typography():
    with CATALOG.open("rb") as po:
        catalog = read_po(po, locale="zh_CN")
    found = [
        f"{msgid!r} -> {msgstr!r}: {', '.join(errors)}"
        for message in catalog if message.id
        for msgid in [message.id if isinstance(message.id, str) else message.id[0]]
        for msgstr in ([message.string] if isinstance(message.string, str) else message.string)
        if msgstr and (errors := typography_errors(msgstr))
    ]
    assert not found, _report(found)


def test_the_catalog_addresses_people_as_nin():
    """The UI addresses people as 您 throughout; a stray 你 reads as careless in a console."""
    with CATALOG.open("rb") as po:
        catalog = read_po(po, locale="zh_CN")
    found = [
        msgstr for message in catalog if message.id
        for msgstr in ([message.string] if isinstance(message.string, str) else message.string)
        if msgstr and "你" in msgstr
    ]
    assert not found, _report(found)


def test_templates_hold_no_chinese_outside_comments():
    found = []
    for template in sorted([*(ROOT / "templates").rglob("*.html"), *(ROOT / "plugins").rglob("*.html")]):
        text = JINJA_COMMENT.sub("", template.read_text(encoding="utf-8"))
        for lineno, line in enumerate(text.splitlines(), 1):
            if re.search(f"[{CJK}]", line):
                errors = typography_errors(line)
                found.append(f"{template.relative_to(ROOT)}:{lineno}: not marked for translation"
                             + (f"; {', '.join(errors)}" if errors else "") + f": {line.strip()!r}")
    assert not found, "\n".join(found)


def _zh_texts_in_code():
    """Every string given under a "zh_CN" or "zh" key of a dict literal in the core and the plugins."""
    for source in sorted([*(ROOT / "portal").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]):
        if ".egg-info" in str(source):
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values):
                if (isinstance(key, ast.Constant) and key.value in ("zh_CN", "zh")
                        and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                    yield f"{source.relative_to(ROOT)}:{value.lineno}", value.value


def test_zh_texts_in_the_core_and_the_plugins_follow_chinese_typography():
    texts = list(_zh_texts_in_code())
    assert any(where.startswith("plugins/") for where, _text in texts)
    found = [f"{where}: {text!r}: {', '.join(errors)}" for where, text in texts
             if (errors := typography_errors(text))]
    assert not found, _report(found)


def test_labels_the_running_plugins_give_follow_chinese_typography(app):
    from portal.accounts.plans import plans
    from portal.accounts.quotas import resources
    from portal.billing.channels import payment_channels
    from portal.identities.oauth import providers

    with app.app_context():
        labels = {
            **{f"sign-in provider {name}": p.label for name, p in providers().items()},
            **{f"payment channel {name}": c.label for name, c in payment_channels().items()},
            **{f"quota resource {r.key}": r.label for r in resources()},
            **{f"plan {p.key}": p.name for p in plans()},
        }
    found = [f"{what}: {label['zh_CN']!r}: {', '.join(errors)}" for what, label in labels.items()
             if isinstance(label, dict) and (errors := typography_errors(label.get("zh_CN") or ""))]
    assert not found, _report(found)


@pytest.mark.parametrize(("value", "expected"), [
    ("GitHub", "已绑定 GitHub 账户。"),
    ("微信", "已绑定微信账户。"),
    ("QQ", "已绑定 QQ 账户。"),
    ("", "已绑定账户。"),
])
def test_formatting_spaces_latin_values_from_chinese_text(value, expected):
    assert spaced_format("已绑定%(provider)s账户。", {"provider": value}) == expected


def test_formatting_keeps_written_spaces_numbers_markup_and_english():
    from markupsafe import Markup

    assert spaced_format("您的 %(site)s %(purpose)s验证码", {"site": "Portal", "purpose": "注册"}) \
        == "您的 Portal 注册验证码"
    assert spaced_format("%(site)s安全提醒", {"site": "Portal"}) == "Portal 安全提醒"
    assert spaced_format("剩余%(left)d个，100%%", {"left": 3}) == "剩余 3 个，100%"
    assert spaced_format(Markup("已绑定%(p)s账户"), {"p": "<b>"}) == Markup("已绑定&lt;b&gt;账户")
    assert spaced_format("Your %(p)s account", {"p": "微信"}) == "Your 微信 account"


@pytest.mark.parametrize(("provider", "expected"), [("GitHub", "已绑定 GitHub 账户。"), ("微信", "已绑定微信账户。")])
def test_code_and_templates_space_a_latin_provider_name_from_chinese(app, provider, expected):
    from flask import render_template_string
    from flask_babel import force_locale

    from portal.i18n import gettext, lazy_gettext

    message = "Your %(provider)s account is linked."
    with app.test_request_context(), force_locale("zh_CN"):
        assert gettext(message, provider=provider) == expected
        assert str(lazy_gettext(message, provider=provider)) == expected
        assert render_template_string("{{ _(m, provider=p) }}", m=message, p=provider) == expected
        assert render_template_string("{% trans %}Your {{ provider }} account is linked.{% endtrans %}",
                                      provider=provider) == expected
