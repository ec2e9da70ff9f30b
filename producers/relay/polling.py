"""The relay's adaptive poll (pure, unit-tested): no NOTIFY on the hot outbox path, so the
relay asks again at once after a full batch and, idle, sleeps a short wait that doubles per
empty poll up to a bound (a cheap indexed query every few milliseconds at most)."""

from __future__ import annotations


def next_wait(handled: int, batch_size: int, previous: float, low: float, high: float) -> float:
    """Seconds to sleep before the next fetch: 0 after a full batch (more is waiting), `low`
    after a partial one (rows are flowing), else the previous wait doubled, at most `high`."""
    if handled >= batch_size:
        return 0.0
    if handled > 0:
        return low
    return min(high, max(low, previous * 2))
