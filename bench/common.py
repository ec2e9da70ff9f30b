"""Shared bench plumbing: the stack, a throwaway database, percentiles."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TypeVar
from uuid import uuid4

from pydantic import SecretStr
from rich.console import Console

from nmc.bootstrap import prepare
from nmc.contract.envelope import Envelope
from nmc.demo.cleanup import remove_run
from nmc.infra.settings import ServiceSettings, Settings, get_settings
from nmc.stack import ensure_up
from nmc.stack.settings import get_stack_settings
from producers.outbox import OutboxWriter
from producers.outbox.settings import OutboxSettings

# tests/support's modules import each other as `support.*` (pytest puts tests/ on the path,
# 3b2d6e0); the benches reuse them, so `python -m bench.…` needs the same entry.
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))

from tests.support.databases import scratch_database as fresh_database
from tests.support.streams import STARTED_PREFIXES, IsolatedTopics, history


@cache
def bench_writer() -> OutboxWriter:
    """The bench process's outbox writer (a root: configured from `OutboxSettings`, one
    stored-value encoder shared by every write of the process, as the platform's roots do)."""
    return OutboxWriter.from_settings(OutboxSettings(), get_settings())


def ready_settings(console: Console) -> Settings:
    """The bench's settings (a composition root), the local stack up and prepared."""
    ensure_up(get_stack_settings(), console)
    settings = get_settings()
    prepare(settings, console)
    return settings


Services = TypeVar("Services", bound=ServiceSettings)


@contextmanager
def scratch_database(settings: Services, prefix: str = "nmc_bench") -> Iterator[Services]:
    """Settings pointing at a fresh migrated database, dropped on exit."""
    with fresh_database(settings.database, prefix=prefix) as url:
        yield settings.model_copy(update={"database_url": SecretStr(url)})


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def paced_ticks(rate: float, seconds: float, per_tick: int,
                start_at: float | None = None) -> Iterator[int]:
    """Offsets of the ticks a steady writer commits: from wall-clock `start_at` (now if None)
    for `seconds`, sleeping between ticks so that `rate` events/s are committed, `per_tick`
    events a tick (the caller commits events [offset, offset + per_tick) at each offset)."""
    start = time.time() if start_at is None else start_at
    time.sleep(max(0.0, start - time.time()))
    sent = 0
    while time.time() - start < seconds:
        yield sent
        sent += per_tick
        delay = start + sent / rate - time.time()
        if delay > 0:
            time.sleep(delay)


@contextmanager
def published_history(
    settings: Settings, tenants: int, flows: int, traceparents: bool = False
) -> Iterator[tuple[IsolatedTopics, list[Envelope]]]:
    """The stream benches' input: a synthetic history (seeded, `flows` per tenant) on fresh
    isolated topics. On exit the topics go, and so do the groups, DLQ and changelog topics of
    every worker or consumer the bench started (prefixes in `STARTED_PREFIXES`)."""
    topics = IsolatedTopics(settings)
    try:
        events = history(42, [str(uuid4()) for _ in range(tenants)], flows)
        topics.publish(events, traceparents)
        print(f"published {len(events)} events to *{topics.suffix}")
        yield topics, events
    finally:
        topics.close()
        for prefix in sorted(STARTED_PREFIXES):
            remove_run(settings, prefix)
        STARTED_PREFIXES.clear()

