"""PII at rest: the vault's ciphertexts are sealed with libs/sealing and bound to their connection and order."""

from __future__ import annotations

from sealing import Cipher, DecryptionFailed, Sealed, UnknownKeyId, generate_key, parse_keys

__all__ = ["DecryptionFailed", "Sealed", "UnknownKeyId", "VaultCipher", "generate_key", "order_aad", "parse_keys"]


class VaultCipher(Cipher):
    """The vault's cipher (bytes in, bytes out); PII_ENCRYPTION_KEYS holds the keys."""


def order_aad(connection_id: str, amazon_order_id: str) -> bytes:
    """What a vault ciphertext is bound to: swapping it into another order's row makes decryption fail."""
    return f"pii-redactor/vault/v1/{connection_id}/{amazon_order_id}".encode()
