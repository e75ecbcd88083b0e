"""The password policy: a well-known 100k common-password list compared normalized and lower-cased,
and the sequences and repetitions anyone tries first."""
from __future__ import annotations

import pytest

from portal.passwords import common_passwords, password_problems

TOO_COMMON = "This password is too common; choose another one."
SEQUENCE = "This password is a simple sequence or repetition; choose another one."


def problems(app, password):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        return password_problems(password)


def test_the_list_holds_the_seclists_top_100000_that_fit_the_policy():
    listed = common_passwords()
    # Entries of SecLists' 10-million-password-list-top-100000 far down the list.
    assert {"dragon12", "babygirl1", "1qazxsw2", "sunshine1", "iloveyou2"} <= listed
    assert len(listed) >= 38_000
    assert all(entry == entry.lower() for entry in listed)


@pytest.mark.parametrize("password", ["Sunshine1", "SUNSHINE1", "ｓｕｎｓｈｉｎｅ１", "ＰＡＳＳＷＯＲＤ１"])
def test_common_passwords_are_found_whatever_their_case_or_width(app, password):
    assert problems(app, password) == [TOO_COMMON]


@pytest.mark.parametrize("password", ["123456789012", "2345678901", "9876543210987", "abcdefghijk",
                                      "qwertyuiopas", "mnbvcxzlkj", "aaaaaaaaaa", "abcabcabcabc", "12121212",
                                      "1qaz2wsx3edc4rfv", "!@#$%^&*()"])
def test_sequences_and_repetitions_are_refused(app, password):
    assert problems(app, password) in ([SEQUENCE], [TOO_COMMON])


@pytest.mark.parametrize("password", ["correct horse battery staple", "71835264", "Tr0ub4dor&3x",
                                      "我的密码很长很长的"])
def test_ordinary_passphrases_pass(app, password):
    assert problems(app, password) == []
