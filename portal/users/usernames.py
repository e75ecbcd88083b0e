"""Usernames: what they may contain and when two are the same.

A username is 3 to 32 characters from ASCII letters, digits, ``_`` and ``-``, starting with a
letter. Input is NFKC-normalized first, so full-width letters typed with a Chinese input method
(``ａｌｉｃｅ``) become plain ASCII (``alice``); anything that is still not in the alphabet after that
(Cyrillic or Greek look-alikes, spaces inside, symbols) is refused rather than guessed at. Two
usernames that differ only in case are the same username.
"""
from __future__ import annotations

import re
import unicodedata

from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l

MIN_LENGTH = 3
MAX_LENGTH = 32
USERNAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")

HELP_TEXT = _l(
    "3-32 characters: letters a-z, digits, _ and -, starting with a letter. "
    "Full-width letters are turned into ordinary ones; other scripts are not allowed."
)


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
    return username


def username_key(username: str) -> str:
    """What uniqueness is decided on: the normalized username, case-folded."""
    return normalize_username(username).casefold()
