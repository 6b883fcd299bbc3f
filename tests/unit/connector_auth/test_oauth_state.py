"""Signed values: OAuth state and setup links are unforgeable, expire, and cannot stand in for each other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from connector_auth.oauth_state import (
    InvalidSignedValue,
    Signer,
    issue_setup_link,
    issue_state,
    read_setup_link,
    read_state,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SIGNER = Signer(b"k" * 32)


def test_a_state_reads_back_within_ten_minutes() -> None:
    state = issue_state(SIGNER, "conn-1", NOW)
    read = read_state(SIGNER, state.value, NOW + timedelta(minutes=9, seconds=59))
    assert (read.connection_id, read.nonce_hash) == ("conn-1", state.nonce_hash)


def test_a_state_expires_after_ten_minutes() -> None:
    state = issue_state(SIGNER, "conn-1", NOW)
    with pytest.raises(InvalidSignedValue, match="expired"):
        read_state(SIGNER, state.value, NOW + timedelta(minutes=10))


def test_states_are_unique_and_carry_256_bits_of_randomness() -> None:
    states = [issue_state(SIGNER, "conn-1", NOW) for _ in range(100)]
    assert len({s.value for s in states}) == 100
    assert all(len(s.nonce) >= 43 for s in states)  # token_urlsafe(32): 32 random bytes


@pytest.mark.parametrize(
    "forge",
    [
        lambda v: issue_state(Signer(b"other" * 8), "conn-1", NOW).value,
        lambda v: issue_state(Signer(b"x"), "conn-2", NOW).value.split(".")[0] + "." + v.split(".")[1],
        lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),
        lambda v: v.split(".")[0],
        lambda v: "",
    ],
    ids=["other key", "edited payload", "edited signature", "no signature", "empty"],
)
def test_forged_states_are_refused(forge) -> None:  # type: ignore[no-untyped-def]
    value = issue_state(SIGNER, "conn-1", NOW).value
    with pytest.raises(InvalidSignedValue):
        read_state(SIGNER, forge(value), NOW)


def test_a_setup_link_is_valid_seven_days_and_is_no_state() -> None:
    link = issue_setup_link(SIGNER, "conn-1", NOW)
    assert read_setup_link(SIGNER, link.value, NOW + timedelta(days=6, hours=23)).connection_id == "conn-1"
    with pytest.raises(InvalidSignedValue, match="expired"):
        read_setup_link(SIGNER, link.value, NOW + timedelta(days=7))
    with pytest.raises(InvalidSignedValue):
        read_state(SIGNER, link.value, NOW)
    with pytest.raises(InvalidSignedValue):
        read_setup_link(SIGNER, issue_state(SIGNER, "conn-1", NOW).value, NOW)


def test_browser_binding_differs_per_flow() -> None:
    a, b = issue_state(SIGNER, "conn-1", NOW), issue_state(SIGNER, "conn-1", NOW)
    assert SIGNER.browser_binding(a.nonce) != SIGNER.browser_binding(b.nonce)
    assert SIGNER.browser_binding(a.nonce) == SIGNER.browser_binding(a.nonce)
    assert a.nonce not in SIGNER.browser_binding(a.nonce)
