"""The zh-CN catalog covers every string the portal and its bundled plugins mark for translation,
and every page renders in both languages.

The app loads translations only from portal/translations, so strings marked in a bundled plugin
are translated there too; a label a plugin gives as {"zh_CN": ..., "en": ...} needs no catalog entry.
"""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from portal import ROOT

CATALOG = ROOT / "portal" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
METHODS = [
    ("**/sandbox/**", "ignore"),
    ("**.egg-info/**", "ignore"),
    ("**.py", "python"),
    ("**.html", "jinja2"),
]
# The extensions the app's Jinja environment has; silent=false so a template the extractor cannot
# parse fails here instead of quietly contributing no strings.
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n,jinja2.ext.do", "silent": "false"}
PLACEHOLDER = re.compile(r"%\((\w+)\)([sdifr])")


@functools.cache
def extracted() -> dict[tuple[str | None, str], list[str]]:
    """(msgctxt, msgid) -> where it is used, for portal/, templates/ and every bundled plugin."""
    found: dict[tuple[str | None, str], list[str]] = {}
    for root in [ROOT / "portal", ROOT / "templates", *sorted((ROOT / "plugins").iterdir())]:
        if not root.is_dir():
            continue
        messages = extract_from_dir(
            str(root), METHODS, options_map={"**.html": JINJA_OPTIONS}, keywords=KEYWORDS,
        )
        for filename, lineno, message, _comments, context in messages:
            msgid = message if isinstance(message, str) else message[0]
            where = f"{(root / filename).relative_to(ROOT)}:{lineno}"
            found.setdefault((context, msgid), []).append(where)
    return found


@functools.cache
def catalog():
    with CATALOG.open("rb") as po:
        return read_po(po, locale="zh_CN")


def _forms(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _translation(context: str | None, msgid: str) -> list[str]:
    """The msgstr forms the compiled catalog will use; [] when missing, empty or fuzzy."""
    message = catalog().get(msgid, context)
    if message is None or message.fuzzy:
        return []
    forms = _forms(message.string)
    return forms if forms and all(form.strip() for form in forms) else []


def _entry_keys(text: str) -> list[tuple[str | None, str]]:
    """(msgctxt, msgid) of every live entry, in file order, duplicates kept (the parsed catalog
    merges them)."""
    keys, context, msgid, field = [], None, None, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = field, line
        else:
            if keyword == "msgctxt":
                context = ""
            elif keyword == "msgid":
                msgid = ""
            elif keyword.startswith("msgstr") and not (field or "").startswith("msgstr"):
                keys.append((context, msgid))
                context = None
            field = keyword
        value = ast.literal_eval(rest)
        if field == "msgctxt":
            context += value
        elif field == "msgid":
            msgid += value
    return keys


def test_the_extraction_finds_strings_in_code_templates_and_plugins():
    places = {where.split("/")[0] for uses in extracted().values() for where in uses}
    assert places == {"portal", "templates", "plugins"}, f"strings were found only in {sorted(places)}"
    assert len(extracted()) > 300
    assert (None, "User center") in extracted()
    assert ("field", "Password") in extracted()


def test_every_marked_string_has_a_chinese_translation():
    missing = [
        f"{uses[0]}: {msgid!r}" + (f" (context {context!r})" if context else "")
        for (context, msgid), uses in sorted(extracted().items(), key=lambda item: item[1][0])
        if not _translation(context, msgid)
    ]
    assert not missing, (
        f"{len(missing)} strings have no zh_CN translation (or only a fuzzy one) in {CATALOG.name}:\n"
        + "\n".join(missing)
    )


def test_the_catalog_has_no_duplicate_entries():
    keys = _entry_keys(CATALOG.read_text(encoding="utf-8"))
    assert keys[0] == (None, ""), "the header entry comes first"
    seen, duplicates = set(), []
    for key in keys:
        if key in seen:
            duplicates.append(key)
        seen.add(key)
    assert not duplicates, "duplicate msgids: " + ", ".join(repr(msgid) for _context, msgid in duplicates)


def test_the_duplicate_check_sees_duplicates_across_continuation_lines():
    text = 'msgid ""\nmsgstr ""\n"Language: zh_CN\\n"\n\nmsgid "A b"\nmsgstr "甲"\n\n' \
           'msgid ""\n"A b"\nmsgstr ""\n"乙"\n\nmsgctxt "x"\nmsgid "A b"\nmsgstr "丙"\n\n' \
           'msgid "%(n)d c"\nmsgid_plural "%(n)d cs"\nmsgstr[0] "丁"\n'
    assert _entry_keys(text) == [(None, ""), (None, "A b"), (None, "A b"), ("x", "A b"), (None, "%(n)d c")]


def test_translations_keep_the_placeholders_of_their_source():
    wrong = []
    for message in catalog():
        if not message.id:
            continue
        expected = {name: kind for msgid in _forms(message.id) for name, kind in PLACEHOLDER.findall(msgid)}
        if not expected:
            continue
        sample = {name: 1 if kind in "dif" else "x" for name, kind in expected.items()}
        for msgstr in _forms(message.string):
            if not msgstr:
                continue
            found = dict(PLACEHOLDER.findall(msgstr))
            try:
                msgstr % sample
                formats = True
            except (KeyError, ValueError, TypeError):
                formats = False
            if found != expected or not formats:
                wrong.append(f"{_forms(message.id)[0]!r} -> {msgstr!r}")
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_plugin_labels_given_per_language_name_both_languages(app):
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
    assert labels
    incomplete = [
        f"{what}: {label!r}" for what, label in labels.items()
        if isinstance(label, dict) and not all(str(label.get(code) or "").strip() for code in ("zh_CN", "en"))
    ]
    assert not incomplete, "labels missing a language:\n" + "\n".join(incomplete)


# Rendering -------------------------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")
PUBLIC_PAGES = ["/auth/sign-in", "/auth/sign-up", "/auth/forgot-password"]
USER_CENTER_PAGES = [
    "/user/profile", "/user/emails", "/user/phone", "/user/password", "/identities/",
    "/account/info", "/account/plan", "/billing/history", "/billing/recharge",
    "/orgs/", "/orgs/new", "/orgs/invitations", "/orgs/acme/members", "/orgs/acme/delete",
    "/user/api-keys/", "/user/api-keys/new",
]


def _main(html: str) -> str:
    """The page's own content, without markup: the navbar always offers 简体中文 and English."""
    body = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"<[^>]+>", " ", body.split(">", 1)[1])


def _english_sentences() -> set[str]:
    """Source strings long enough that finding one verbatim on a zh-CN page means it was not translated."""
    return {
        msgid for (_context, msgid) in extracted()
        if " " in msgid and "%" not in msgid and len(msgid) > 12 and _translation(None, msgid) != [msgid]
    }


def _switch(client, locale: str, page: str = "/auth/sign-in"):
    response = client.submit("/auth/locale", {"locale": locale, "next": "/"}, page=page)
    assert response.status_code == 302


def _signed_in_with_an_org_and_an_order(app, users):
    client, _user_id = users.signed_in_client("alice")
    assert client.submit("/orgs/new", {"slug": "acme", "name": "Acme"}).status_code == 302
    response = client.submit("/billing/recharge", {"amount": "10", "channel": "alipay"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, response.headers["Location"]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_page_renders_in_both_languages(app, users, locale):
    visitor = app.test_client()
    _switch(visitor, locale)
    member, order_page = _signed_in_with_an_org_and_an_order(app, users)
    _switch(member, locale, page="/user/profile")
    pages = [(visitor, url) for url in PUBLIC_PAGES]
    pages += [(member, url) for url in [*USER_CENTER_PAGES, order_page]]
    lang = '<html lang="zh-CN">' if locale == "zh_CN" else '<html lang="en">'
    english = _english_sentences()
    for client, url in pages:
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        assert lang in html, url
        text = _main(html)
        if locale == "zh_CN":
            assert CJK.search(text), f"{url} has no Chinese"
            untranslated = sorted(s for s in english if s in text)
            assert not untranslated, f"{url} shows English: {untranslated}"
        else:
            assert not CJK.search(text), f"{url} shows Chinese in English: {CJK.findall(text)[:20]}"


def test_messages_follow_a_language_forced_inside_a_request(app):
    """Bug caught: a catalog remembered for the request (not for the language) would write a notice
    to an English-speaking user in the Chinese of the request that triggered it, or the reverse."""
    from flask import render_template_string
    from flask_babel import force_locale

    from portal.i18n import gettext

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert gettext("Emails") == "邮箱"
        with force_locale("en"):
            assert gettext("Emails") == "Emails"
            assert render_template_string("{{ _('Emails') }}") == "Emails"
        assert gettext("Emails") == "邮箱"
        assert render_template_string("{{ _('Emails') }}") == "邮箱"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert gettext("Emails") == "Emails"
        with force_locale("zh_CN"):
            assert gettext("Emails") == "邮箱"
