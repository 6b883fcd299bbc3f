"""AES-256-GCM with key ids for rotation and associated data binding a ciphertext to its row.

A ciphertext copied to another row fails to decrypt, because the associated data names the row it was sealed
for. Every encryption uses a fresh 96-bit random nonce (never reused under a key).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from typing import Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class DecryptionFailed(Exception):
    """Wrong key, tampered ciphertext, or a ciphertext that belongs to another row."""


class UnknownKeyId(DecryptionFailed):
    pass


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id!r}, ciphertext=<{len(self.ciphertext)} bytes>)"


def parse_keys(spec: SecretStr) -> dict[str, bytes]:
    """`kid:key,…` (key = urlsafe base64 of 32 bytes) into an ordered mapping; the first entry encrypts.

    Errors name an entry's position or key id, never key material.
    """
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(filter(None, (e.strip() for e in spec.get_secret_value().split(","))), 1):
        kid, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(kid):
            raise ValueError(f"entry {position} must be kid:key with kid of 1-32 letters, digits, '_', '.', '-'")
        if kid in keys:
            raise ValueError(f"key id {kid!r} appears twice")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise ValueError(f"key {kid!r} is not urlsafe base64") from None
        if len(key) != 32:
            raise ValueError(f"key {kid!r} must decode to 32 bytes (AES-256), not {len(key)}")
        keys[kid] = key
    if not keys:
        raise ValueError("at least one kid:key entry is needed")
    return keys


def generate_key() -> str:
    """A new key in the `kid:key` format (the key part, without its id)."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode().rstrip("=")


class Cipher:
    """Bytes in, bytes out; the first key encrypts, every key decrypts."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ValueError("no encryption keys")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.primary_key_id = next(iter(keys))

    @classmethod
    def from_spec(cls, spec: SecretStr) -> Self:
        return cls(parse_keys(spec))

    @property
    def key_ids(self) -> list[str]:
        return list(self._aead)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> Sealed:
        nonce = os.urandom(12)
        ciphertext = self._aead[self.primary_key_id].encrypt(nonce, plaintext, associated_data)
        return Sealed(self.primary_key_id, nonce, ciphertext)

    def decrypt(self, sealed: Sealed, associated_data: bytes) -> bytes:
        aead = self._aead.get(sealed.key_id)
        if aead is None:
            raise UnknownKeyId(f"ciphertext sealed with key {sealed.key_id!r}, which is not configured")
        try:
            return aead.decrypt(sealed.nonce, sealed.ciphertext, associated_data)
        except InvalidTag:
            raise DecryptionFailed(f"ciphertext under key {sealed.key_id!r} failed authentication") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(primary_key_id={self.primary_key_id!r}, key_ids={self.key_ids!r})"
