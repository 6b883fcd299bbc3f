"""settle_heap: start-up objects leave the collector's passes and young objects are collected less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from servicekit import settle_heap
from servicekit.garbage_collection import OLDER_THRESHOLDS, YOUNG_THRESHOLD


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_start_up_objects_are_frozen_and_young_collections_are_rarer(restored_collector: None) -> None:
    start_up = [object() for _ in range(10)], {"kept": "for the process"}
    gc.unfreeze()

    settle_heap()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    assert not any(start_up is tracked for tracked in gc.get_objects()), "a frozen object is in no generation"
