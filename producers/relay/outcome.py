"""Deciding what a batch's delivery results mean for the outbox (pure).

The rule that keeps per-key order: walk each key's rows in id order and stop at the first row
that was not acknowledged. Rows after it stay pending even if Kafka acknowledged them; they are
republished after the failed row (a duplicate, which consumers dedupe), never before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum


class Delivery(Enum):
    ACKED = "acked"
    TRANSIENT = "transient"  # broker/registry unavailable, timeout: retry later
    PERMANENT = "permanent"  # the record can never be written as is: park it
    NOT_SENT = "not_sent"  # held back behind an earlier failure of its key
    # Its schema_version cannot be resolved yet: parked like a permanent error (its key waits
    # behind it), but with a time at which the relay puts it back in line (`held_retry_s`).
    HELD = "held"


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~5x more, once per produced row
class RowResult:
    row_id: int
    key: str
    delivery: Delivery
    error: str | None = None
    partition: int | None = None
    offset: int | None = None
    refused: bool = False  # the broker refused the request it came in (maybe not its fault)
    retry_after_s: float | None = None  # HELD: when to put the parked row back in line


@dataclass
class BatchOutcome:
    published: list[RowResult] = field(default_factory=list)
    parked: list[RowResult] = field(default_factory=list)
    retry: list[RowResult] = field(default_factory=list)

    @property
    def transient_failures(self) -> int:
        return sum(1 for r in self.retry if r.delivery is Delivery.TRANSIENT)


def refused_rows(results: Sequence[RowResult]) -> set[int]:
    """Rows the broker refused permanently: each must be re-sent alone before anyone is blamed,
    because one bad record makes the broker refuse its whole record batch (pure)."""
    return {r.row_id for r in results if r.refused and r.delivery is Delivery.PERMANENT}


def settle(results: Sequence[RowResult]) -> BatchOutcome:
    """Split results (in row-id order) into published, parked and to-retry rows."""
    outcome = BatchOutcome()
    blocked: set[str] = set()
    for result in sorted(results, key=lambda r: r.row_id):
        if result.key in blocked:
            outcome.retry.append(result)
            continue
        if result.delivery is Delivery.ACKED:
            outcome.published.append(result)
            continue
        blocked.add(result.key)
        if result.delivery is Delivery.PERMANENT or result.delivery is Delivery.HELD:
            outcome.parked.append(result)
        else:
            outcome.retry.append(result)
    return outcome


HELD_BACKOFF_CAP = 32  # the delay doubles per attempt up to 32 x the first one


def held_retry_s(attempts: int, first_s: float, max_attempts: int) -> float | None:
    """When a row held for an unknown schema version is tried again (pure): `first_s` after
    its first attempt, doubling (capped), or None once `max_attempts` are used up — then it
    stays parked until an operator retries or skips it. `attempts` counts earlier tries."""
    if attempts + 1 >= max_attempts:
        return None
    return first_s * float(min(2**attempts, HELD_BACKOFF_CAP))


Columns = tuple[
    list[int], list[str], list[int | None], list[int | None], list[str | None], list[float | None]
]


def settle_rows(outcome: BatchOutcome) -> Columns:
    """Columns of the settle statement (pure): one entry per row that changes.

    Rows held back without an error of their own (behind a failure of their key) are left
    untouched: they were not tried. Parked rows carry their retry delay (None: for good).
    """
    ids: list[int] = []
    states: list[str] = []
    partitions: list[int | None] = []
    offsets: list[int | None] = []
    errors: list[str | None] = []
    retries: list[float | None] = []
    for r in outcome.published:
        ids.append(r.row_id)
        states.append("published")
        partitions.append(r.partition)
        offsets.append(r.offset)
        errors.append(None)
        retries.append(None)
    for r in outcome.parked:
        ids.append(r.row_id)
        states.append("parked")
        partitions.append(None)
        offsets.append(None)
        errors.append(r.error)
        retries.append(r.retry_after_s)
    for r in outcome.retry:
        if r.error:
            ids.append(r.row_id)
            states.append("pending")
            partitions.append(None)
            offsets.append(None)
            errors.append(r.error)
            retries.append(None)
    return ids, states, partitions, offsets, errors, retries
