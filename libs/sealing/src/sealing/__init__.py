"""Secrets and PII at rest: AES-256-GCM, key ids for rotation, associated data binding a ciphertext to its row."""

from sealing.cipher import Cipher, DecryptionFailed, Sealed, UnknownKeyId, generate_key, parse_keys

__all__ = ["Cipher", "DecryptionFailed", "Sealed", "UnknownKeyId", "generate_key", "parse_keys"]
