"""The worker's garbage-collector tuning (`runtime.tune_gc`): what it sets, and that it keeps
collecting cycles (only less often), so memory stays bounded."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from nmc_streams.runtime import tune_gc
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
def test_tune_gc_raises_the_young_threshold_and_freezes_start_up_objects() -> None:
    _, gen1, gen2 = gc.get_threshold()
    tune_gc(StreamSettings().gc_threshold)
    assert gc.get_threshold() == (50_000, gen1, gen2)
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restore_gc")
def test_cycles_made_after_tuning_are_still_collected() -> None:
    tune_gc(50_000)
    ref = weakref.ref(_Node())
    assert ref() is not None
    gc.collect()
    assert ref() is None
