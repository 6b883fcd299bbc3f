"""Fault decisions: latency before the request, latency after it, errors, and how `count` runs out."""

from __future__ import annotations

import random

from spapi_sandbox.faults import Fault, Faults


def test_latency_after_is_separate_from_latency_before_and_counts_down() -> None:
    faults = Faults(random.Random(7))
    faults.add(Fault(operation="confirmShipment", latency_after_ms=400, count=1))
    faults.add(Fault(operation="confirmShipment", latency_ms=100, count=2))
    assert faults.decide("getOrder").latency_after_s == 0
    first = faults.decide("confirmShipment")
    assert (first.latency_s, first.latency_after_s, first.error) == (0.1, 0.4, None)
    second = faults.decide("confirmShipment")
    assert (second.latency_s, second.latency_after_s) == (0.1, 0)
    third = faults.decide("confirmShipment")
    assert (third.latency_s, third.latency_after_s) == (0, 0)
    assert faults.describe() == []
