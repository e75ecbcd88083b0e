"""Personal data at rest: a key ring for AES-GCM encryption and a keyed hash for lookups.

Settings (see portal/config.py):

- ``PERSONAL_DATA_KEYS``: a list of ``"<key id>:<32 bytes, base64>"``. The first key encrypts, every key
  decrypts, and each ciphertext names the key that made it, so adding a new key in front and
  re-encrypting (``portal realname rotate-key``, ...) retires an old one without a flag day.
- ``PERSONAL_DATA_LOOKUP_KEY``: 32 bytes, base64, for ``lookup_hash``: equal values give equal
  hashes, so a unique column can hold them, while the column alone reveals nothing.

Every value is bound to a ``context`` (e.g. ``"realname.cert_no"``) as associated data, so a
ciphertext copied into another column or feature fails to decrypt instead of being read as
something else. ``portal keys new`` prints a fresh key in the expected form.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from portal.config import ConfigError

# "v1.<key id>.<base64url(nonce || ciphertext || tag)>": the version leaves room for another
# scheme; '.' never appears in a key id or in unpadded base64url.
PREFIX = "v1"
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
KEY_BYTES = 32
NONCE_BYTES = 12
DEVELOPMENT_KEY_ID = "dev"


class KeyRingError(ConfigError):
    """The key ring is missing or malformed; the feature that needs it refuses to run."""


class DecryptionError(ValueError):
    """A stored value could not be decrypted: unknown key id, wrong context or tampered bytes."""


def _b64decode(text: str) -> bytes:
    # Standard or URL-safe alphabet, padded or not; anything else is refused (the default decoder
    # would skip it silently).
    text = text.strip().rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_key(key_id: str) -> str:
    """A fresh ``"<key id>:<key>"`` entry for PERSONAL_DATA_KEYS."""
    if not KEY_ID.match(key_id):
        raise ValueError("a key id is 1-32 letters, digits, '-' or '_'")
    return f"{key_id}:{_b64encode(os.urandom(KEY_BYTES))}"


def _parse_key(entry, setting: str) -> tuple[str, bytes]:
    if not isinstance(entry, str) or ":" not in entry:
        raise KeyRingError(f"{setting}: each key is a string '<key id>:<base64 key>'")
    key_id, _, encoded = entry.partition(":")
    if not KEY_ID.match(key_id):
        raise KeyRingError(f"{setting}: key id {key_id!r} must be 1-32 letters, digits, '-' or '_'")
    try:
        key = _b64decode(encoded)
    except ValueError:
        raise KeyRingError(f"{setting}: key {key_id!r} is not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyRingError(f"{setting}: key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
    return key_id, key


@dataclass(frozen=True)
class KeyRing:
    # (key id, key), the encrypting key first.
    keys: tuple[tuple[str, bytes], ...]
    lookup_key: bytes

    def __post_init__(self):
        ids = [key_id for key_id, _ in self.keys]
        if not ids:
            raise KeyRingError("PERSONAL_DATA_KEYS is empty")
        if len(set(ids)) != len(ids):
            raise KeyRingError("PERSONAL_DATA_KEYS: key ids must be unique")

    @classmethod
    def from_settings(cls, keys, lookup_key) -> "KeyRing":
        if isinstance(keys, str):  # one key given as a plain string
            keys = [keys]
        parsed = tuple(_parse_key(entry, "PERSONAL_DATA_KEYS") for entry in keys or ())
        if not isinstance(lookup_key, str):
            raise KeyRingError("PERSONAL_DATA_LOOKUP_KEY must be a base64 string of 32 bytes")
        try:
            lookup = _b64decode(lookup_key)
        except ValueError:
            raise KeyRingError("PERSONAL_DATA_LOOKUP_KEY is not base64") from None
        if len(lookup) != KEY_BYTES:
            raise KeyRingError(f"PERSONAL_DATA_LOOKUP_KEY must be {KEY_BYTES} bytes, not {len(lookup)}")
        return cls(parsed, lookup)

    @property
    def current_key_id(self) -> str:
        return self.keys[0][0]

    def _aad(self, key_id: str, context: str) -> bytes:
        return f"{PREFIX}\x00{key_id}\x00{context}".encode()

    def encrypt(self, plaintext: str, context: str) -> str:
        key_id, key = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), self._aad(key_id, context))
        return f"{PREFIX}.{key_id}.{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, context: str) -> str:
        key_id, body = self._split(token)
        key = dict(self.keys).get(key_id)
        if key is None:
            raise DecryptionError(f"no key {key_id!r} in PERSONAL_DATA_KEYS")
        try:
            raw = _b64decode(body)
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad(key_id, context))
        except (ValueError, InvalidTag):
            raise DecryptionError(f"a value sealed with key {key_id!r} does not open") from None
        return plain.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return self._split(token)[0]

    def is_current(self, token: str) -> bool:
        return self.key_id_of(token) == self.current_key_id

    def reencrypt(self, token: str, context: str) -> str:
        """``token`` sealed with the current key (unchanged when it already is)."""
        if self.is_current(token):
            return token
        return self.encrypt(self.decrypt(token, context), context)

    def lookup_hash(self, value: str, context: str) -> str:
        """HMAC-SHA256 of ``value`` (already normalized by the caller), hex: for unique columns."""
        message = f"{context}\x00{value}".encode("utf-8")
        return hmac.new(self.lookup_key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _split(token: str) -> tuple[str, str]:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != PREFIX or not KEY_ID.match(parts[1]):
            raise DecryptionError("not a sealed value")
        return parts[1], parts[2]


def _development_ring(secret_key: str) -> KeyRing:
    """Development only: keys derived from SECRET_KEY, so the demo runs without settings."""
    def derive(label: str) -> bytes:
        return hmac.new(secret_key.encode(), f"portal personal data {label}".encode(), hashlib.sha256).digest()

    return KeyRing(((DEVELOPMENT_KEY_ID, derive("encryption")),), derive("lookup"))


def build_keyring(config) -> KeyRing | None:
    """The ring the settings describe; None when they describe none (outside development).

    Malformed settings raise ``KeyRingError`` so that the site refuses to start."""
    keys = config.get("PERSONAL_DATA_KEYS")
    lookup = config.get("PERSONAL_DATA_LOOKUP_KEY")
    if keys or lookup:
        if not keys or not lookup:
            raise KeyRingError("set both PERSONAL_DATA_KEYS and PERSONAL_DATA_LOOKUP_KEY")
        return KeyRing.from_settings(keys, lookup)
    if config.get("ENVIRONMENT") == "development" and config.get("SECRET_KEY"):
        return _development_ring(config["SECRET_KEY"])
    return None


def init_app(app) -> None:
    app.extensions["portal.keyring"] = build_keyring(app.config)


def keyring(app=None) -> KeyRing:
    """The current app's key ring; raises ``KeyRingError`` when none is configured."""
    ring = (app or current_app).extensions.get("portal.keyring")
    if ring is None:
        raise KeyRingError(
            "personal data cannot be stored: set PERSONAL_DATA_KEYS and PERSONAL_DATA_LOOKUP_KEY "
            "(`portal keys new` prints fresh ones)"
        )
    return ring


def configured(app=None) -> bool:
    return (app or current_app).extensions.get("portal.keyring") is not None
