"""AES-GCM sealing of refresh tokens: key ids, associated data, nonces, and key-spec parsing."""

from __future__ import annotations

import base64

import pytest
from connector_auth.crypto import (
    DecryptionFailed,
    Sealed,
    TokenCipher,
    UnknownKeyId,
    generate_key,
    parse_keys,
    refresh_token_aad,
)
from pydantic import SecretStr

TOKEN = "Atzr|IwEBIA-example-refresh-token"


def cipher(spec: str) -> TokenCipher:
    return TokenCipher.from_spec(SecretStr(spec))


def test_sealed_token_opens_with_the_same_associated_data_only() -> None:
    c = cipher(f"k1:{generate_key()}")
    sealed = c.encrypt(TOKEN, refresh_token_aad("conn-a", "NA"))
    assert TOKEN.encode() not in sealed.ciphertext
    assert c.decrypt(sealed, refresh_token_aad("conn-a", "NA")) == TOKEN
    for other in (refresh_token_aad("conn-b", "NA"), refresh_token_aad("conn-a", "EU")):
        with pytest.raises(DecryptionFailed):
            c.decrypt(sealed, other)


def test_every_encryption_uses_a_fresh_nonce() -> None:
    c = cipher(f"k1:{generate_key()}")
    sealed = [c.encrypt(TOKEN, b"aad") for _ in range(50)]
    assert len({s.nonce for s in sealed}) == 50
    assert all(len(s.nonce) == 12 for s in sealed)
    assert len({s.ciphertext for s in sealed}) == 50


def test_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = f"old:{generate_key()}", f"new:{generate_key()}"
    sealed_old = cipher(old).encrypt(TOKEN, b"aad")
    rotated = cipher(f"{new},{old}")
    assert rotated.primary_key_id == "new"
    assert rotated.decrypt(sealed_old, b"aad") == TOKEN
    assert rotated.encrypt(TOKEN, b"aad").key_id == "new"
    with pytest.raises(UnknownKeyId, match="'old'"):
        cipher(new).decrypt(sealed_old, b"aad")


def test_tampered_ciphertext_fails_authentication() -> None:
    c = cipher(f"k1:{generate_key()}")
    sealed = c.encrypt(TOKEN, b"aad")
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(DecryptionFailed):
        c.decrypt(Sealed(sealed.key_id, sealed.nonce, flipped), b"aad")


def test_a_key_with_the_same_id_but_other_material_cannot_decrypt() -> None:
    sealed = cipher(f"k1:{generate_key()}").encrypt(TOKEN, b"aad")
    with pytest.raises(DecryptionFailed):
        cipher(f"k1:{generate_key()}").decrypt(sealed, b"aad")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "at least one"),
        ("nokeyid", "entry 1 must be kid:key"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "must decode to 32 bytes"),
        ("k1:!!!notbase64!!!", "not urlsafe base64"),
        (f"k1:{generate_key()},k1:{generate_key()}", "appears twice"),
        ("bad id:" + generate_key(), "entry 1"),
    ],
)
def test_invalid_key_specs_are_refused_without_echoing_key_material(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_keys(SecretStr(spec))
    material = spec.split(":", 1)[-1]
    if len(material) > 8:
        assert material not in str(refused.value)


def test_reprs_hide_key_and_ciphertext() -> None:
    key = generate_key()
    c = cipher(f"k1:{key}")
    sealed = c.encrypt(TOKEN, b"aad")
    assert key not in repr(c)
    assert sealed.ciphertext.hex() not in repr(sealed) and str(sealed.ciphertext) not in repr(sealed)
