"""What a real name and a resident ID number may look like, and how they are shown masked.

Each refusal says what is wrong and never repeats the value (it is personal data)."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

from portal.i18n import gettext as _


class IdentityError(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


NAME_MIN, NAME_MAX = 2, 30
# CJK unified ideographs (with extension A), joined by the middle dot of minority names
# (阿沛·阿旺晋美), or Latin letters joined by single spaces.
HAN = "\u3400-\u4dbf\u4e00-\u9fff"
CHINESE_NAME = re.compile(rf"[{HAN}]+(·[{HAN}]+)*")
LATIN_NAME = re.compile(r"[A-Za-z]+( [A-Za-z]+)*")
# Dots people type for the middle dot: bullet, katakana middle dot (full and half width), full-width
# full stop and dot operator.
MIDDLE_DOTS = re.compile("[\u2022\u30fb\uff65\uff0e\u22c5\u2027]")
SPACES = re.compile(r"\s+")


def normalize_name(raw: str | None) -> str:
    text = MIDDLE_DOTS.sub("·", unicodedata.normalize("NFKC", raw or "")) if raw else ""
    # NFKC folds full-width letters and spaces; the middle dot survives it.
    return SPACES.sub(" ", text).strip()


def validate_name(raw: str | None) -> str:
    """The name, normalized; IdentityError with the reason otherwise."""
    name = normalize_name(raw)
    if not name:
        raise IdentityError(_("Enter your real name as on your ID card."), "name")
    if len(name) > NAME_MAX:
        raise IdentityError(_("A name can have at most %(max)d characters.", max=NAME_MAX), "name")
    if len(name) < NAME_MIN:
        raise IdentityError(_("A name needs at least %(min)d characters.", min=NAME_MIN), "name")
    if any(ch.isdigit() for ch in name):
        raise IdentityError(_("A name cannot contain digits."), "name")
    if not (CHINESE_NAME.fullmatch(name) or LATIN_NAME.fullmatch(name)):
        raise IdentityError(
            _("Use Chinese characters (with · between the parts of a minority name) or Latin letters "
              "and spaces, as on your ID card; no digits or symbols."),
            "name",
        )
    return name


def normalize_cert_no(raw: str | None) -> str:
    """Full-width digits and letters folded (NFKC), every space removed, a final x upper-cased."""
    text = unicodedata.normalize("NFKC", raw or "")
    return SPACES.sub("", text).upper()


def validate_cert_no(raw: str | None, today: date | None = None) -> str:
    """The 18-character resident ID number, normalized; IdentityError with the reason otherwise."""
    number = normalize_cert_no(raw)
    if not number:
        raise IdentityError(_("Enter your resident ID number."), "cert_no")
    if len(number) == 15 and number.isascii() and number.isdigit():
        raise IdentityError(
            _("This is an old 15-digit ID number: enter the 18-character number of your current ID card."),
            "cert_no",
        )
    if not (number.isascii() and re.fullmatch(r"[0-9]+X?", number)):
        raise IdentityError(
            _("A resident ID number is made of digits; only its last character may be an X."), "cert_no"
        )
    if len(number) != 18:
        raise IdentityError(
            _("A resident ID number has 18 characters; this one has %(count)d.", count=len(number)), "cert_no"
        )
    if number[-1] != ric.calc_check_digit(number):
        raise IdentityError(
            _("The last character (the check digit) does not match the others: check the number."), "cert_no"
        )
    try:
        born = ric.get_birth_date(number)
    except InvalidComponent:
        raise IdentityError(
            _("Characters 7 to 14 of the ID number are not a real date of birth."), "cert_no"
        ) from None
    if born > (today or date.today()):
        raise IdentityError(_("The date of birth in the ID number is in the future."), "cert_no")
    try:
        ric.get_birth_place(number)
    except InvalidComponent:
        raise IdentityError(
            _("The first six digits of the ID number are not a known region code."), "cert_no"
        ) from None
    return number


def mask_name(name: str) -> str:
    """张*三: the first and last characters; a two-character name keeps its first (张*)."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_cert_no(number: str) -> str:
    """1101**********1233: the first four and last four characters."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
