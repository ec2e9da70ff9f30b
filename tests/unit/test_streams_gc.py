"""The garbage-collector tuning of the long-running processes (`nmc.infra.heap.settle_heap`):
what it sets, and that it keeps collecting cycles (only less often), so memory stays bounded."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from nmc.infra.heap import settle_heap
from nmc_streams.settings import StreamSettings


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector can free it


@pytest.mark.usefixtures("restore_gc")
def test_settle_heap_raises_the_young_threshold_and_freezes_start_up_objects() -> None:
    _, gen1, gen2 = gc.get_threshold()
    settle_heap(StreamSettings().gc_threshold)
    assert gc.get_threshold() == (50_000, gen1, gen2)
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restore_gc")
def test_cycles_made_after_tuning_are_still_collected() -> None:
    settle_heap(50_000)
    ref = weakref.ref(_Node())
    assert ref() is not None
    gc.collect()
    assert ref() is None


@pytest.mark.usefixtures("restore_gc")
def test_a_zero_threshold_only_freezes() -> None:
    before = gc.get_threshold()
    settle_heap(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() > 0
