"""Is a configured secret key random enough to sign sessions? An estimate, meant to catch the keys
people type ("changeme", a phrase, one character repeated), not to measure real randomness.

A key counts as at least 32 random bytes when its length times the bits each character can carry
(4 for hexadecimal, 6 for base64, about 6.5 for other printable text, 8 for raw bytes) reaches 256,
and its characters look drawn at random: varied (their Shannon entropy near the most its length
allows), no run of 8 repeated elsewhere, and no long arithmetic runs ("abcdef", "13579").
"""
from __future__ import annotations

import math
import string
from collections import Counter

REQUIRED_BITS = 256
# The share of the greatest possible Shannon entropy a random key reaches: 64 random hex digits
# reach 0.87 or more, 43 base64 characters 0.78 or more, 32 raw bytes 0.88 or more (the least of
# 20 000 draws each); typed phrases stay near 0.6.
MIN_VARIETY = 0.7
REPEAT_LENGTH = 8

_BASE64 = set(string.ascii_letters + string.digits + "+/=-_")


def _bits_per_symbol(key) -> float:
    if isinstance(key, bytes):
        return 8.0
    if set(key) <= set(string.digits):
        return math.log2(10)
    if set(key) <= set(string.hexdigits):
        return 4.0
    if set(key) <= _BASE64:
        return 6.0
    return math.log2(95)


def _variety(symbols) -> float:
    counts = Counter(symbols)
    total = len(symbols)
    shannon = -sum(n / total * math.log2(n / total) for n in counts.values())
    return shannon / min(_bits_per_symbol(symbols), math.log2(total))


def _has_repeats(symbols) -> bool:
    seen = set()
    for start in range(len(symbols) - REPEAT_LENGTH + 1):
        piece = symbols[start:start + REPEAT_LENGTH]
        if piece in seen:
            return True
        seen.add(piece)
    return False


def _steady_steps(symbols) -> int:
    """How many symbols continue the step between the two before them ("c" in "abc", "5" in "135")."""
    values = list(symbols) if isinstance(symbols, bytes) else [ord(c) for c in symbols]
    return sum(1 for i in range(2, len(values)) if values[i] - values[i - 1] == values[i - 1] - values[i - 2])


def secret_key_problem(key) -> str | None:
    """What makes ``key`` (str or bytes) unfit as SECRET_KEY, or None when it looks random enough."""
    if not isinstance(key, (str, bytes)):
        return "must be a string"
    bits = len(key) * _bits_per_symbol(key)
    if bits < REQUIRED_BITS:
        return f"is too short (about {int(bits)} bits where {REQUIRED_BITS} are needed)"
    if _variety(key) < MIN_VARIETY or _has_repeats(key) or _steady_steps(key) > len(key) // 4:
        return "is not random (repeated or predictable characters)"
    return None
