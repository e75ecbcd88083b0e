"""Usernames: what they may contain and when two are the same.

A username is 3 to 32 characters from ASCII letters, digits, ``_`` and ``-``, starting with a
letter. Input is NFKC-normalized first, so full-width letters typed with a Chinese input method
(``ａｌｉｃｅ``) become plain ASCII (``alice``); anything that is still not in the alphabet after that
(Cyrillic or Greek look-alikes, spaces inside, symbols) is refused rather than guessed at. Two
usernames that differ only in case are the same username.

Names that could pass for the site speaking (admin, support, official, 客服, the site's name, ...) are
reserved, and so is anything that looks like one once separators are dropped and look-alike
characters are folded to one skeleton (Unicode TR39's idea: ``Adm1n``, ``ad_min``, ``supp0rt``,
``rnoderator`` for moderator).
"""
from __future__ import annotations

import functools
import re
import unicodedata

from flask import current_app, has_app_context

from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l

MIN_LENGTH = 3
MAX_LENGTH = 32
USERNAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")

HELP_TEXT = _l(
    "3-32 characters: letters a-z, digits, _ and -, starting with a letter. "
    "Full-width letters are turned into ordinary ones; other scripts are not allowed."
)


RESERVED_NAMES = frozenset(
    """admin administrator administrators root superuser sysadmin system sys support helpdesk help
    service services customerservice official officials security staff team moderator mod operator
    ops webmaster hostmaster postmaster mailer-daemon noreply no-reply abuse billing payment payments
    finance account accounts user users owner portal api www mail email info contact null undefined
    anonymous guest test official-support kefu guanfang guanliyuan xitong
    客服 管理员 官方 系统 超级管理员 运营 安全中心 客服中心""".split()
)
# Characters that pass for others in a username (TR39 confusables, within the username alphabet).
LOOKALIKES = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l"})
SEQUENCE_LOOKALIKES = (("rn", "m"), ("vv", "w"), ("cl", "d"))
SEPARATORS = re.compile(r"[\s_\-.·・]+")


def skeleton(name: str) -> str:
    """What a name looks like: NFKC, case-folded, separators dropped, look-alikes folded."""
    text = SEPARATORS.sub("", unicodedata.normalize("NFKC", name or "").casefold())
    for pair, single in SEQUENCE_LOOKALIKES:
        text = text.replace(pair, single)
    return text.translate(LOOKALIKES)


@functools.lru_cache(maxsize=8)
def _reserved_skeletons(site_name: str) -> frozenset[str]:
    return frozenset(skeleton(name) for name in (*RESERVED_NAMES, site_name) if name)


def is_reserved(name: str) -> bool:
    site_name = current_app.config.get("SITE_NAME", "") if has_app_context() else ""
    return skeleton(name) in _reserved_skeletons(site_name)


def normalize_username(raw: str) -> str:
    """The username as stored; raises ValueError with a translated message when it is not valid."""
    username = unicodedata.normalize("NFKC", raw or "").strip()
    if not username:
        raise ValueError(_("Enter a username."))
    if "\x00" in username:
        raise ValueError(_("The username contains a NUL character."))
    if len(username) < MIN_LENGTH:
        raise ValueError(_("The username needs at least %(count)d characters.", count=MIN_LENGTH))
    if len(username) > MAX_LENGTH:
        raise ValueError(_("The username can have at most %(count)d characters.", count=MAX_LENGTH))
    if not username[0].isascii() or not username[0].isalpha():
        raise ValueError(_("The username must start with a letter a-z."))
    if not USERNAME_PATTERN.match(username):
        raise ValueError(_("The username may contain only letters a-z, digits, _ and -."))
    if is_reserved(username):
        raise ValueError(_("%(name)s is reserved; choose another username.", name=username))
    return username


def username_key(username: str) -> str:
    """What uniqueness is decided on: the normalized username, case-folded."""
    return normalize_username(username).casefold()
