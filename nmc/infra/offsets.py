"""How many records a consumer group still has to read on one partition (pure)."""

from __future__ import annotations


def records_left(committed: int | None, start: int, end: int) -> int:
    """Records between a group's committed offset and the partition's end offset.

    Records before the partition's start offset are gone (retention, `DeleteRecords`): a group
    that committed below it, or nothing at all (`None` or a negative sentinel), reads from the
    start. Counting the deleted records too would show phantom lag for ever, and the stream
    workers' watchdog would restart an idle worker that has nothing to read.
    """
    position = committed if committed is not None and committed >= 0 else 0
    return max(end - max(position, start), 0)
