"""The key format: a type prefix, 190 random bits, and a checksum that catches typos offline."""

import math
import string

import pytest

from portal.apikeys import tokens


def test_a_key_is_prefixed_base62_with_enough_randomness():
    issued = tokens.new_key()
    assert issued.secret.startswith("pk_") and len(issued.secret) == tokens.KEY_LENGTH == 49
    assert set(issued.secret[3:]) <= set(string.ascii_letters + string.digits)
    assert tokens.SECRET_LENGTH * math.log2(62) >= 160
    assert issued.display_prefix == issued.secret[:11]
    assert len({tokens.new_key().secret for _ in range(200)}) == 200


def test_only_a_hash_is_kept_and_it_matches_in_constant_time():
    issued = tokens.new_key()
    assert issued.secret not in issued.secret_hash and len(issued.secret_hash) == 64
    assert tokens.matches(issued.secret, issued.secret_hash)
    assert not tokens.matches(tokens.new_key().secret, issued.secret_hash)


def test_the_checksum_catches_every_single_character_typo():
    key = tokens.new_key().secret
    assert tokens.lookup_id_of(key) == key[3:11]
    for position in range(3, len(key)):
        for replacement in "0aZ":
            if key[position] == replacement:
                continue
            typo = key[:position] + replacement + key[position + 1:]
            with pytest.raises(tokens.MalformedKey) as refused:
                tokens.lookup_id_of(typo)
            assert refused.value.reason == "checksum"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pk_",
        "sk_" + "a" * 46,
        "pk_" + "a" * 45,
        "pk_" + "a" * 47,
        "pk_" + "é" * 46,
        "pk_" + "a" * 40 + "-" * 6,
        " pk_" + "a" * 45,
    ],
)
def test_anything_else_is_not_a_key(text):
    with pytest.raises(tokens.MalformedKey) as refused:
        tokens.lookup_id_of(text)
    assert refused.value.reason == "format"
