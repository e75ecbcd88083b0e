"""The key ring for personal data at rest: AES-GCM with rotatable keys, and keyed lookup hashes."""
from __future__ import annotations

import pytest

from portal import create_app
from portal.crypto import DecryptionError, KeyRing, KeyRingError, build_keyring, keyring, new_key

LOOKUP = "A" * 43  # 32 zero-ish bytes, base64url without padding


def ring(*entries, lookup=LOOKUP):
    return KeyRing.from_settings(list(entries), lookup)


def test_a_value_round_trips_and_names_its_key():
    keys = ring(new_key("b"), new_key("a"))
    sealed = keys.encrypt("110101199003071233", "realname.cert_no")
    assert "110101199003071233" not in sealed and sealed.startswith("v1.b.")
    assert keys.key_id_of(sealed) == "b" and keys.is_current(sealed)
    assert keys.decrypt(sealed, "realname.cert_no") == "110101199003071233"


def test_the_same_value_seals_differently_each_time():
    keys = ring(new_key("a"))
    assert keys.encrypt("张三", "c") != keys.encrypt("张三", "c")


def test_the_first_key_encrypts_and_every_key_decrypts():
    old, new = new_key("old"), new_key("new")
    sealed_by_old = ring(old).encrypt("张三", "realname.name")
    rotated_ring = ring(new, old)
    assert rotated_ring.decrypt(sealed_by_old, "realname.name") == "张三"
    assert not rotated_ring.is_current(sealed_by_old)
    resealed = rotated_ring.reencrypt(sealed_by_old, "realname.name")
    assert rotated_ring.key_id_of(resealed) == "new"
    assert rotated_ring.reencrypt(resealed, "realname.name") == resealed
    # Once the old key is gone, only what was re-encrypted still opens.
    assert ring(new).decrypt(resealed, "realname.name") == "张三"
    with pytest.raises(DecryptionError, match="no key 'old'"):
        ring(new).decrypt(sealed_by_old, "realname.name")


def test_a_value_opens_only_in_its_own_context():
    keys = ring(new_key("a"))
    sealed = keys.encrypt("张三", "realname.name")
    with pytest.raises(DecryptionError):
        keys.decrypt(sealed, "mfa.totp_secret")


@pytest.mark.parametrize("mangle", [
    lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),  # tampered tag
    lambda s: "v2" + s[2:],  # unknown scheme
    lambda s: s.replace(".", ":"),
    lambda s: "",
    lambda s: None,
])
def test_tampered_or_foreign_values_raise(mangle):
    keys = ring(new_key("a"))
    with pytest.raises(DecryptionError):
        keys.decrypt(mangle(keys.encrypt("张三", "c")), "c")


def test_a_key_with_the_same_id_but_other_bytes_does_not_open():
    sealed = ring(new_key("a")).encrypt("张三", "c")
    with pytest.raises(DecryptionError, match="does not open"):
        ring(new_key("a")).decrypt(sealed, "c")


def test_lookup_hashes_are_keyed_stable_and_per_context():
    keys = ring(new_key("a"))
    first = keys.lookup_hash("110101199003071233", "realname.cert_no")
    assert first == ring(new_key("b")).lookup_hash("110101199003071233", "realname.cert_no")
    assert first != keys.lookup_hash("110101199003071234", "realname.cert_no")
    assert first != keys.lookup_hash("110101199003071233", "other")
    assert first != ring(new_key("a"), lookup="B" * 43).lookup_hash("110101199003071233", "realname.cert_no")
    assert len(first) == 64 and "110101" not in first


@pytest.mark.parametrize("keys, lookup, message", [
    (["no-colon"], LOOKUP, "'<key id>:<base64 key>'"),
    (["a:" + "A" * 20], LOOKUP, "must be 32 bytes"),
    (["bad id!:" + "A" * 43], LOOKUP, "key id"),
    (["a:" + "*" * 43], LOOKUP, "not base64"),
    ([new_key("a"), new_key("a")], LOOKUP, "unique"),
    ([new_key("a")], "c2hvcnQ", "32 bytes"),
    ([new_key("a")], None, "set both"),
    ([], LOOKUP, "set both"),
])
def test_malformed_settings_are_refused_with_the_reason(keys, lookup, message):
    with pytest.raises(KeyRingError, match=message):
        build_keyring({"PERSONAL_DATA_KEYS": keys, "PERSONAL_DATA_LOOKUP_KEY": lookup})


def test_a_site_refuses_to_start_with_malformed_keys(portal_config, tmp_path):
    with pytest.raises(KeyRingError, match="must be 32 bytes"):
        create_app({**portal_config, "PERSONAL_DATA_KEYS": ["a:AAAA"]}, instance_path=str(tmp_path))


def test_without_keys_production_refuses_to_store_personal_data(portal_config, tmp_path):
    config = {**portal_config, "PERSONAL_DATA_KEYS": (), "PERSONAL_DATA_LOOKUP_KEY": None}
    app = create_app(config, instance_path=str(tmp_path))
    with app.app_context(), pytest.raises(KeyRingError, match="portal keys new"):
        keyring()


def test_development_derives_keys_from_the_secret_key(portal_config, tmp_path):
    config = {**portal_config, "ENVIRONMENT": "development", "PERSONAL_DATA_KEYS": (),
              "PERSONAL_DATA_LOOKUP_KEY": None}
    app = create_app(config, instance_path=str(tmp_path))
    with app.app_context():
        assert keyring().decrypt(keyring().encrypt("张三", "c"), "c") == "张三"


def test_keys_new_prints_usable_settings(runner):
    result = runner.invoke(args=["portal", "keys", "new", "2027"])
    assert result.exit_code == 0, result.output
    entry = result.output.split("entry:")[1].split()[0]
    lookup = result.output.split("LOOKUP_KEY:")[1].split()[0]
    keys = KeyRing.from_settings([entry], lookup)
    assert keys.current_key_id == "2027"
    assert runner.invoke(args=["portal", "keys", "new", "bad id"]).exit_code != 0
