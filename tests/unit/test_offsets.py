"""The lag rule shared by the stream watchdog, `nmc status` and the test harness."""

from __future__ import annotations

import pytest

from nmc.infra.offsets import records_left


@pytest.mark.parametrize(
    ("committed", "start", "end", "left"),
    [
        (7, 0, 31, 24),       # an ordinary lag
        (31, 0, 31, 0),       # caught up
        (7, 31, 31, 0),       # everything it had not read was deleted: nothing left
        (7, 20, 31, 11),      # part of it was deleted: only what is still there counts
        (None, 5, 9, 4),      # never committed: reads from the log start
        (-1001, 0, 0, 0),     # librdkafka's "no offset" sentinel on an empty partition
        (-1001, 3, 8, 5),
    ],
)
def test_records_left_counts_only_records_that_still_exist(
    committed: int | None, start: int, end: int, left: int
) -> None:
    assert records_left(committed, start, end) == left
