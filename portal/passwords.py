"""Password hashing (argon2id, parameters from config) and the password policy.

Policy (security-baseline: ASVS 6.2, NIST 800-63B): 8 to 1024 characters, any characters but NUL,
no composition rules, not one of the common passwords (SecLists' top 100,000 and zxcvbn's list,
compared NFKC-normalized and lower-cased, so "ＰＡＳＳＷＯＲＤ１" is "password1"), not a sequence
or a repetition anyone would try first (123456789012, abcdefgh, qwertyuiop, aaaaaaaa, abcabcabc),
not the username. Passwords are hashed as given: never stripped or truncated.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from portal.i18n import gettext as _

MIN_LENGTH = 8
MAX_LENGTH = 1024
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


# Rows a finger runs along; a password that is a stretch of one of them (either way) is a sequence.
SEQUENCES = (
    "0123456789" * 4,
    "abcdefghijklmnopqrstuvwxyz" * 2,
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertyuiop" * 3, "asdfghjkl" * 3, "zxcvbnm" * 3,
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "!@#$%^&*()" * 3,
)
# A unit this short repeated (abcabcabc, 12121212, 5201314 5201314) is as weak as the unit.
MAX_REPEATED_UNIT = 4


def comparable(password: str) -> str:
    """The password as the common-password list is compared with it: NFKC-normalized, lower-cased."""
    return unicodedata.normalize("NFKC", password).lower()


def is_sequence(password: str) -> bool:
    """True for a run along a row of digits, letters or keys (either way), or a short unit repeated."""
    text = comparable(password)
    if not text:
        return False
    for row in SEQUENCES:
        if text in row or text[::-1] in row:
            return True
    for size in range(1, MAX_REPEATED_UNIT + 1):
        unit = text[:size]
        if len(text) > size and (unit * (len(text) // size + 1)).startswith(text):
            return True
    return False


@lru_cache(maxsize=8)
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


def hasher() -> PasswordHasher:
    config = current_app.config
    return _hasher(
        int(config["PASSWORD_ARGON2_MEMORY_KIB"]),
        int(config["PASSWORD_ARGON2_TIME_COST"]),
        int(config["PASSWORD_ARGON2_PARALLELISM"]),
    )


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. A missing or malformed hash never matches."""
    if not stored_hash:
        return False
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than the configured ones."""
    try:
        return hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def burn_verification_time(password: str) -> None:
    """Spend the time one verification takes, so an unknown login answers as slowly as a known one."""
    verify_password(_dummy_hash(), password)


def _dummy_hash() -> str:
    config = current_app.config
    key = (
        config["PASSWORD_ARGON2_MEMORY_KIB"],
        config["PASSWORD_ARGON2_TIME_COST"],
        config["PASSWORD_ARGON2_PARALLELISM"],
    )
    cache = current_app.extensions.setdefault("portal.passwords.dummy", {})
    if key not in cache:
        cache[key] = hash_password("no password is this one")
    return cache[key]


def password_problems(password: str, username: str | None = None) -> list[str]:
    """Why ``password`` is not acceptable, as translated messages (empty when it is fine)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_("Use at least %(count)d characters.", count=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_("Use at most %(count)d characters.", count=MAX_LENGTH))
    if "\x00" in password:
        problems.append(_("The password contains a NUL character."))
    if comparable(password) in common_passwords():
        problems.append(_("This password is too common; choose another one."))
    elif is_sequence(password):
        problems.append(_("This password is a simple sequence or repetition; choose another one."))
    if username and password.casefold() == username.casefold():
        problems.append(_("The password must not be the username."))
    return problems
