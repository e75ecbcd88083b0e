"""Amounts in yuan as typed -> integer fen; anything else is refused with a message."""
from __future__ import annotations

import pytest

from portal.billing.amounts import AmountError, format_yuan, parse_yuan

MAX = 5_000_000


@pytest.mark.parametrize(
    "text, fen",
    [("0.01", 1), ("1", 100), ("12.5", 1250), ("12.50", 1250), ("99.99", 9999), (" 100 ", 10000),
     ("50000", 5_000_000), ("50000.00", 5_000_000)],
)
def test_accepted_amounts(text, fen):
    assert parse_yuan(text, MAX) == fen


@pytest.mark.parametrize(
    "text",
    ["", "   ", None, "0", "0.00", "-1", "0.001", "1e309", "1e3", "NaN", "nan", "inf", "Infinity", "1_000",
     "１００", "١٠٠", "50000.01", "99999999999999", "1,000", "1.", ".5", "01", "+1", "0x10", "1 000",
     "12.345", "¥10"],
)
def test_refused_amounts(text):
    with pytest.raises(AmountError) as refused:
        parse_yuan(text, MAX)
    assert str(refused.value)


def test_format_yuan():
    assert [format_yuan(f) for f in (0, 1, 1250, 5_000_000, -300)] == [
        "0.00", "0.01", "12.50", "50,000.00", "-3.00"
    ]
