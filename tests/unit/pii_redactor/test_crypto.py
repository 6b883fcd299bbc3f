import pytest
from pii_redactor.crypto import DecryptionFailed, UnknownKeyId, VaultCipher, generate_key, order_aad, parse_keys
from pydantic import SecretStr


def _cipher(spec: str) -> VaultCipher:
    return VaultCipher.from_spec(SecretStr(spec))


def test_a_ciphertext_opens_only_for_the_order_it_was_sealed_for() -> None:
    cipher = _cipher(f"k1:{generate_key()}")
    sealed = cipher.encrypt(b'{"buyer_name": "Jordan Rivera"}', order_aad("conn-a", "111-1"))
    assert b"Jordan" not in sealed.ciphertext
    assert cipher.decrypt(sealed, order_aad("conn-a", "111-1")) == b'{"buyer_name": "Jordan Rivera"}'
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(sealed, order_aad("conn-b", "111-1"))
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(sealed, order_aad("conn-a", "111-2"))


def test_rotation_encrypts_with_the_first_key_and_still_opens_the_old_ones() -> None:
    old, new = generate_key(), generate_key()
    before = _cipher(f"k1:{old}").encrypt(b"x", b"ad")
    rotated = _cipher(f"k2:{new},k1:{old}")
    assert rotated.decrypt(before, b"ad") == b"x"
    assert rotated.encrypt(b"x", b"ad").key_id == "k2"
    with pytest.raises(UnknownKeyId):
        _cipher(f"k2:{new}").decrypt(before, b"ad")


def test_nonces_are_fresh_per_encryption() -> None:
    cipher = _cipher(f"k1:{generate_key()}")
    assert len({cipher.encrypt(b"x", b"ad").nonce for _ in range(100)}) == 100


@pytest.mark.parametrize("spec", ["", "k1", "bad id!:abcd", "k1:short", f"k1:{'A' * 43},k1:{'B' * 43}"])
def test_malformed_key_specs_are_refused_without_echoing_key_material(spec: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_keys(SecretStr(spec))
    assert "A" * 43 not in str(info.value)
