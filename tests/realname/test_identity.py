"""What a real name and a resident ID number may be: each refusal says why, none repeats the value."""
from __future__ import annotations

from datetime import date

import pytest

from portal.realname.identity import (
    IdentityError,
    mask_cert_no,
    mask_name,
    validate_cert_no,
    validate_name,
)

from .conftest import ID_ONE, ID_X


def checked(first_17: str) -> str:
    """``first_17`` with its right check digit, so that only the part under test is wrong."""
    from stdnum.cn import ric

    return first_17 + ric.calc_check_digit(first_17 + "0")


@pytest.fixture(autouse=True)
def _context(app):
    with app.test_request_context():
        yield


@pytest.mark.parametrize("typed", [
    ID_ONE,
    "１１０１０１１９９００３０７１２３３",  # full-width digits
    " 1101 0119 9003 0712 33 ",            # spaces
    "110101\u3000199003071233",             # an ideographic space
])
def test_typed_variants_normalize_to_the_number(typed):
    assert validate_cert_no(typed) == ID_ONE


def test_a_lowercase_or_full_width_x_is_the_check_digit_x():
    assert validate_cert_no(ID_X.lower()) == ID_X
    assert validate_cert_no(ID_X[:-1] + "ｘ") == ID_X


@pytest.mark.parametrize("typed, reason", [
    ("", "Enter your resident ID number"),
    ("110101199003071234", "check digit"),                    # wrong check digit
    ("11010119900307123", "has 18 characters; this one has 17"),
    ("1101011990030712330", "has 18 characters; this one has 19"),
    ("110101900307123", "old 15-digit"),
    ("11010119900307123A", "only its last character may be an X"),
    ("1101011990O3071233", "only its last character may be an X"),
    ("X10101199003071233", "only its last character may be an X"),
    ("11010119900307-233", "only its last character may be an X"),
    (checked("11010119901307123"), "not a real date of birth"),
    (checked("11010119900230123"), "not a real date of birth"),
    (checked("11010120990101123"), "in the future"),
])
def test_bad_id_numbers_are_refused_with_the_reason(typed, reason):
    with pytest.raises(IdentityError, match=reason) as refused:
        validate_cert_no(typed, today=date(2026, 12, 1))
    assert refused.value.field == "cert_no"
    if len(typed) > 6:
        assert typed not in refused.value.message


def test_an_unknown_region_is_refused():
    number = checked("99010119900307123")
    with pytest.raises(IdentityError, match="not a known region code"):
        validate_cert_no(number)


@pytest.mark.parametrize("typed, expected", [
    ("张三", "张三"),
    ("  张小三 ", "张小三"),
    ("阿沛·阿旺晋美", "阿沛·阿旺晋美"),
    ("阿沛•阿旺晋美", "阿沛·阿旺晋美"),   # a bullet typed for the middle dot
    ("阿沛・阿旺晋美", "阿沛·阿旺晋美"),   # a katakana middle dot
    ("John  Smith", "John Smith"),
    ("Ｊｏｈｎ Smith", "John Smith"),
])
def test_names_are_normalized(typed, expected):
    assert validate_name(typed) == expected


@pytest.mark.parametrize("typed, reason", [
    ("", "Enter your real name"),
    ("张", "at least 2"),
    ("张" * 31, "at most 30"),
    ("张" * 200, "at most 30"),
    ("张三3", "cannot contain digits"),
    ("张三!", "no digits or symbols"),
    ("<script>", "no digits or symbols"),
    ("张三 Smith", "no digits or symbols"),
    ("·张三", "no digits or symbols"),
    ("张三·", "no digits or symbols"),
    ("O'Brien", "no digits or symbols"),
])
def test_bad_names_are_refused_with_the_reason(typed, reason):
    with pytest.raises(IdentityError, match=reason) as refused:
        validate_name(typed)
    assert refused.value.field == "name"


def test_masks_keep_only_the_ends():
    assert mask_name("张小三") == "张*三"
    assert mask_name("张三") == "张*"
    assert mask_name("阿沛·阿旺晋美") == "阿*****美"
    assert mask_cert_no(ID_ONE) == "1101**********1233"
