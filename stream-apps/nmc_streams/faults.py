"""Fault injection for the kill and watchdog tests (`NMC_STREAMS_CRASH_*`): a real SIGKILL at
a chosen point of the N-th batch, fetching stopped on every partition (`pause`: a stall a seek
cures), or the agent taking nothing more (`wedge`: one only a restart cures). Off unless
`crash_after_batches` is set."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from nmc_streams.settings import StreamSettings


def crash_here(settings: StreamSettings, point: str, batches: int, consumer: Any) -> None:
    """Strike at `point` when it is the configured point of the configured batch."""
    if settings.crash_after_batches != batches or settings.crash_point != point:
        return
    if point == "pause":
        consumer.pause_partitions(consumer.assignment())
    else:
        os.kill(os.getpid(), signal.SIGKILL)


async def wedge_here(settings: StreamSettings, batches: int) -> None:
    """Never return after the configured batch when the point is `wedge`."""
    if settings.crash_point == "wedge" and settings.crash_after_batches == batches:
        await asyncio.Event().wait()
