"""The stall watchdog of a worker (docs/design/stall-watchdog.md).

A worker that holds partitions its group has not committed to their end, and has processed
nothing for a whole interval, is stalled (seen rarely, under heavy load, right after an
assignment: the fetcher has the records, the agent never gets them). Committed offsets, not
fetch positions, are the measure: a fetched but undelivered record moves the position, not the
commit. First remedy: seek to the committed offsets and resume fetching (replays are
idempotent); still stalled at the next check: restart the process in place (`restart.py`), as
a supervisor would.

`behind` and `StallWatch` are pure (unit-tested); `StallWatchdog.check` is what the worker's
timer runs, against its Faust consumer and an AdminClient.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from nmc.infra.offsets import records_left
from nmc_streams.metrics import StreamMetrics
from nmc_streams.settings import StreamSettings

log = logging.getLogger(__name__)


def behind(
    committed: Mapping[Any, int | None],
    ends: Mapping[Any, int],
    starts: Mapping[Any, int] | None = None,
) -> list[Any]:
    """Assigned partitions with records left to read (pure; deleted records do not count, see
    `records_left`)."""
    starts = starts or {}
    return sorted(
        (tp for tp, end in ends.items()
         if records_left(committed.get(tp), starts.get(tp, 0), end) > 0),
        key=str,
    )


class StallWatch:
    """The watchdog's memory between checks (pure): which assignment it judges and how many
    checks in a row found the worker stalled."""

    def __init__(self) -> None:
        self.assignment: frozenset[Any] | None = None
        self.stalls_in_a_row = 0

    def new_assignment(self, assignment: frozenset[Any]) -> None:
        self.assignment = assignment
        self.stalls_in_a_row = 0

    def progressing(self) -> None:
        self.stalls_in_a_row = 0

    def stalled(self) -> str:
        """`seek` the first time in a row, `restart` when seeking did not help."""
        self.stalls_in_a_row += 1
        return "seek" if self.stalls_in_a_row == 1 else "restart"


class BatchClock:
    """What the batch loop tells the watchdog: when the last batch ended, and whether one is
    running now (an outage waited out inside a batch is not a stall)."""

    def __init__(self) -> None:
        self.last_batch_at = time.monotonic()
        self.in_batch = False

    def started(self) -> None:
        self.in_batch = True

    def done(self) -> None:
        self.in_batch = False
        self.last_batch_at = time.monotonic()

    def reset(self) -> None:
        """A fresh assignment gets a whole interval."""
        self.last_batch_at = time.monotonic()


def committed_offsets(
    admin: AdminClient, group: str, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The group's committed offset per partition (absent: nothing committed yet)."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in partitions])
    result = admin.list_consumer_group_offsets([request], request_timeout=10)[group].result()
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.topic_partitions or []
        if tp.offset >= 0
    }


class StallWatchdog:
    """One worker's watchdog; `check` runs every `stall_check_s` (see the module docstring)."""

    def __init__(self, app: Any, app_name: str, group: str, admin: AdminClient,
                 settings: StreamSettings, metrics: StreamMetrics, clock: BatchClock,
                 restart: Callable[[], None]) -> None:
        self.app = app  # the faust App: its consumer and flow control
        self.app_name = app_name
        self.group = group
        self.admin = admin
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.restart = restart
        self.watch = StallWatch()

    async def check(self) -> None:
        app_name, settings, clock = self.app_name, self.settings, self.clock
        consumer = self.app.consumer
        assignment = frozenset(consumer.assignment())
        if self.watch.assignment != assignment:
            self.watch.new_assignment(assignment)
            clock.reset()
            return
        idle_s = time.monotonic() - clock.last_batch_at
        if not assignment or idle_s < settings.stall_check_s:
            self.watch.progressing()
            return
        if clock.in_batch:  # an outage being waited out inside a batch is not a stall (it logs)
            if idle_s >= 4 * settings.stall_check_s:
                log.warning("%s: one batch has been running for %.0fs", app_name, idle_s)
            return
        ends = await consumer.highwaters(*assignment)
        starts = await consumer.earliest_offsets(*assignment)
        committed = await asyncio.to_thread(
            committed_offsets, self.admin, self.group,
            [(tp.topic, tp.partition) for tp in assignment]
        )
        stuck = behind(
            {tp: committed.get((tp.topic, tp.partition)) for tp in assignment}, ends, starts
        )
        if not stuck:
            self.watch.progressing()
            return
        action = self.watch.stalled()
        self.metrics.stalls.labels(app_name).inc()
        positions = {tp: await consumer.position(tp) for tp in stuck}
        log.warning(
            "%s: no batch for %.0fs while behind on %s (committed %s, positions %s, ends %s, "
            "paused %s, flow active %s); %s",
            app_name, idle_s,
            [f"{tp.topic}:{tp.partition}" for tp in stuck],
            {str(tp): committed.get((tp.topic, tp.partition)) for tp in stuck},
            {str(tp): positions.get(tp) for tp in stuck},
            {str(tp): ends.get(tp) for tp in stuck},
            sorted(str(tp) for tp in getattr(consumer, "_paused_partitions", ())),
            self.app.flow_control.is_active(),
            "seeking to committed (or earliest) offsets and resuming" if action == "seek"
            else "restarting the worker process",
        )
        if action == "restart" and settings.restart_on_stall:
            self.restart()
            return
        try:
            # explicit seeks: `perform_seek` only moves partitions with a committed offset, and
            # a fresh group whose first records were lost this way has none
            targets = {tp: committed.get((tp.topic, tp.partition)) for tp in stuck}
            fresh = [tp for tp, offset in targets.items() if offset is None]
            earliest = await consumer.earliest_offsets(*fresh) if fresh else {}
            consumer.resume_partitions(assignment)
            for tp, offset in targets.items():
                await consumer.seek(tp, offset if offset is not None else earliest[tp])
        except Exception:  # a failed remedy must not end the worker; the next check retries
            log.exception("%s: seeking after a stall failed", app_name)
