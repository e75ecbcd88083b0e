"""The shape of an API key: ``pk_`` + 8-character lookup id + 32-character secret + 6-character
checksum, all base62 (49 characters).

The secret carries 32 x log2(62) = 190 bits from ``secrets``; the lookup id finds the stored row
without a scan and carries no secret. The checksum is the CRC32 of everything before it, as GitHub's
tokens do, so a mistyped or truncated key is refused (and a scanner can recognise a real one)
without a database look-up. Only a SHA-256 of the whole key is stored: a database leak gives no
usable key, and 190 random bits need no slow hash.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

PREFIX = "pk"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
LOOKUP_LENGTH = 8
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + 1 + LOOKUP_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH
# Anything that starts like one of our keys, whatever its length: used to recognise a key pasted
# into a URL.
LOOKS_LIKE_KEY = re.compile(rf"{PREFIX}_[0-9A-Za-z]{{8,}}")
_SHAPE = re.compile(
    rf"{PREFIX}_(?P<lookup>[0-9A-Za-z]{{{LOOKUP_LENGTH}}})[0-9A-Za-z]{{{SECRET_LENGTH}}}"
    rf"(?P<checksum>[0-9A-Za-z]{{{CHECKSUM_LENGTH}}})"
)


class MalformedKey(ValueError):
    """Not a key this portal could have issued; ``reason`` is 'format' or 'checksum'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NewKey:
    lookup_id: str
    # The whole key, shown to its owner once and never stored.
    secret: str
    secret_hash: str

    @property
    def display_prefix(self) -> str:
        return f"{PREFIX}_{self.lookup_id}"


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits)).rjust(width, ALPHABET[0])


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def new_key() -> NewKey:
    lookup_id = _random(LOOKUP_LENGTH)
    body = f"{PREFIX}_{lookup_id}{_random(SECRET_LENGTH)}"
    key = body + checksum(body)
    return NewKey(lookup_id, key, hash_key(key))


def lookup_id_of(key: str) -> str:
    """The lookup id of a well-formed key; raises MalformedKey otherwise (no database involved)."""
    match = _SHAPE.fullmatch(key) if len(key) == KEY_LENGTH and key.isascii() else None
    if match is None:
        raise MalformedKey("format")
    if not hmac.compare_digest(checksum(key[:-CHECKSUM_LENGTH]), match.group("checksum")):
        raise MalformedKey("checksum")
    return match.group("lookup")


def matches(key: str, stored_hash: str) -> bool:
    """Whether ``key`` is the one whose hash was stored, in constant time."""
    return hmac.compare_digest(hash_key(key), stored_hash)
