"""Refresh tokens at rest: text sealed with libs/sealing and bound to the connection and region of their row."""

from __future__ import annotations

from pydantic import SecretStr
from sealing import Cipher, DecryptionFailed, Sealed, UnknownKeyId, generate_key, parse_keys

__all__ = [
    "DecryptionFailed",
    "Sealed",
    "TokenCipher",
    "UnknownKeyId",
    "generate_key",
    "parse_keys",
    "refresh_token_aad",
]


class TokenCipher:
    """A refresh token is text; TOKEN_ENCRYPTION_KEYS holds the keys."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._cipher = Cipher(keys)

    @classmethod
    def from_spec(cls, spec: SecretStr) -> TokenCipher:
        return cls(parse_keys(spec))

    @property
    def primary_key_id(self) -> str:
        return self._cipher.primary_key_id

    @property
    def key_ids(self) -> list[str]:
        return self._cipher.key_ids

    def encrypt(self, plaintext: str, associated_data: bytes) -> Sealed:
        return self._cipher.encrypt(plaintext.encode(), associated_data)

    def decrypt(self, sealed: Sealed, associated_data: bytes) -> str:
        return self._cipher.decrypt(sealed, associated_data).decode()

    def __repr__(self) -> str:
        return f"TokenCipher(primary_key_id={self.primary_key_id!r}, key_ids={self.key_ids!r})"


def refresh_token_aad(connection_id: str, region: str) -> bytes:
    """What a refresh-token ciphertext is bound to: swapping it into another row makes decryption fail."""
    return f"connector-auth/refresh-token/v1/{connection_id}/{region}".encode()
