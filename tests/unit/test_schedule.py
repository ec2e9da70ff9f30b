"""The order in which make test hands integration groups to xdist workers (support.schedule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.schedule import longest_groups_first, module_seconds


class _Item:
    def __init__(self, module: str, name: str, group: str | None = None) -> None:
        self.path = Path(f"tests/integration/{module}.py")
        self.nodeid = f"tests/integration/{module}.py::{name}"
        self._group = group or module

    def get_closest_marker(self, name: str) -> Any:
        return pytest.mark.xdist_group(self._group).mark if name == "xdist_group" else None


def test_heaviest_group_first_and_collection_order_kept_within_and_among_equals() -> None:
    items: list[Any] = [
        _Item("test_a", "one"), _Item("test_a", "two"),
        _Item("test_b", "one"),
        _Item("test_c", "one", group="ports"), _Item("test_d", "one", group="ports"),
        _Item("test_e", "one"), _Item("test_f", "one"),
    ]
    weights = {"test_a": 10.0, "test_b": 50.0, "test_c": 20.0, "test_d": 25.0}
    longest_groups_first(items, weights)
    assert [i.nodeid.split("/")[-1] for i in items] == [
        "test_b.py::one",                       # 50
        "test_c.py::one", "test_d.py::one",     # the group "ports": 20 + 25
        "test_a.py::one", "test_a.py::two",     # 10, its own order kept
        "test_e.py::one", "test_f.py::one",     # not weighed: as collected, after the rest
    ]


def test_module_seconds_sums_setup_call_and_teardown_per_module() -> None:
    output = """
============ slowest durations ============
12.50s call     tests/integration/test_a.py::test_x[p]@test_a
2.00s setup    tests/integration/test_a.py::test_y@test_a
0.50s teardown tests/integration/test_b.py::test_z@ports
(4 durations < 0.005s hidden.)
"""
    assert module_seconds(output) == {"test_a": 14.5, "test_b": 0.5}
