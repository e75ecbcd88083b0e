"""Yuan as people type them -> integer fen, and back for display. No float anywhere.

Python's int() and Decimal() accept "1_000", full-width digits, "NaN" and "1e309"; the ASCII
pattern below admits none of them, so conversion happens only on text already known to be sane.
"""
from __future__ import annotations

import re

from portal.i18n import lazy_gettext as _l

# 1 to 12 integer digits without a leading zero (or a single 0), then at most 2 decimals.
YUAN_PATTERN = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?", re.ASCII)


class AmountError(ValueError):
    """The text is not an amount in yuan we accept; ``str(error)`` is a message for the user."""


def parse_yuan(text: str | None, max_fen: int, min_fen: int = 1) -> int:
    """``"12.5"`` -> ``1250``. Raises AmountError (with a message to show) on anything else."""
    text = (text or "").strip(" \t")
    if not text:
        raise AmountError(_l("Enter an amount."))
    match = YUAN_PATTERN.fullmatch(text)
    if match is None:
        raise AmountError(
            _l("Enter the amount in yuan with digits 0-9 and at most 2 decimals, e.g. 100 or 12.50.")
        )
    whole, fraction = match.group(1), (match.group(2) or ".")[1:]
    fen = int(whole) * 100 + int(fraction.ljust(2, "0"))
    if fen < min_fen:
        raise AmountError(_l("The amount must be at least %(min)s yuan.", min=format_yuan(min_fen)))
    if fen > max_fen:
        raise AmountError(_l("The amount can be at most %(max)s yuan.", max=format_yuan(max_fen)))
    return fen


def format_yuan(fen: int) -> str:
    """``1250`` -> ``"12.50"``; negative amounts keep their sign."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"
