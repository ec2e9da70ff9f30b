"""The relay and Debezium side by side, in one run, on the same load (issue #10).

    .venv/bin/python -m bench.cdc_side_by_side [--backlog 100000] [--rate 1000] [--seconds 20]

Needs `nmc stack up` (started if missing) and starts the Connect worker if it is not running.

1. Backlog: the same `--backlog` MessageSent events are committed while each relay is held
   (the relay process SIGSTOPped; the Debezium connector stopped with its slot in place), then
   released; the clock runs until a plain consumer has seen every event on the topic.
2. Raw producer ceiling: the same records, pre-encoded, produced from memory (bench.relay).
3. Steady load: writers commit `--rate` events/s for `--seconds` with each relay running;
   latency is commit -> first seen by a consumer (an upper bound of commit -> broker ack,
   measured the same way for both), plus the relay's own commit -> ack from `published_at`.
CPU seconds are user+system of each relay process (the `nmc relay` Python process; the Connect
worker JVM) between release and the last event, per 1,000 events.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from confluent_kafka import Consumer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.common import (
    bench_writer,
    paced_ticks,
    percentile,
    ready_settings,
    scratch_database,
)
from bench.relay import make_events, raw_ceiling, write_backlog
from bench.results import add_json_option, table_data, write_json
from nmc.contract.envelope import Envelope
from nmc.contract.headers import decode_headers
from nmc.infra.consume import end_offsets
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import consumer_config
from nmc.infra.settings import ServiceSettings
from nmc.stack import connect
from nmc.stack.layout import Layout
from nmc.stack.settings import StackSettings, get_stack_settings, get_versions

console = Console()
TOPIC = "nmc.conversation"
NMC = Path(sys.executable).parent / "nmc"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Arrivals:
    """A plain consumer in a thread: first time each wanted event_id is seen on the topic."""

    def __init__(self, settings: ServiceSettings, wanted: set[str]) -> None:
        self.wanted = wanted
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._consumer = Consumer(consumer_config(settings, f"bench-cdc-{uuid.uuid4().hex[:8]}",
                                                  **{"fetch.wait.max.ms": 10}))
        self._consumer.assign(end_offsets(settings, [TOPIC]))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(1000, 0.01):
                if msg.error():
                    continue
                eid = decode_headers(msg.headers()).get("event_id")
                if eid is not None and eid in self.wanted and eid not in self.seen:
                    self.seen[eid] = time.time()

    def wait_all(self, timeout_s: float) -> float:
        """Wall time when the last wanted event was first seen."""
        deadline = time.monotonic() + timeout_s
        while len(self.seen) < len(self.wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(f"saw {len(self.seen)}/{len(self.wanted)} events")
            time.sleep(0.05)
        return max(self.seen.values())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()


@dataclass
class Side:
    """How to hold, release and measure one relay."""

    name: str
    pid: Callable[[], int]
    hold: Callable[[], None]
    release: Callable[[], None]


@contextmanager
def relay_process(settings: ServiceSettings) -> Iterator[Side]:
    env = {**os.environ, "DATABASE_URL": settings.database}
    proc = subprocess.Popen([str(NMC), "relay"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(4.0)  # imports, lane leases
    try:
        yield Side("nmc relay (Python)", lambda: proc.pid,
                   lambda: os.kill(proc.pid, signal.SIGSTOP),
                   lambda: os.kill(proc.pid, signal.SIGCONT))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=60)


@contextmanager
def debezium(settings: StackSettings, cs: connect.ConnectSettings) -> Iterator[Side]:
    layout = Layout.of(settings)
    dbname = make_url(settings.database).database or ""
    slot = f"bench_{dbname[-12:]}"
    name = f"bench-{dbname}"
    connect.provision_database(settings, cs, layout, dbname, slot)
    connect.put_connector(cs, name, connect.connector_config(
        settings, cs, connect.ConnectLayout.of(layout), dbname=dbname, slot=slot,
        publication=slot, snapshot_mode="no_data"))
    connect.wait_running(cs, name)
    url = f"{connect.base_url(cs)}/connectors/{name}"

    def pid() -> int:
        record = connect.running(layout)
        assert record is not None
        return record.pid

    def put(action: str) -> Callable[[], None]:
        def call() -> None:
            httpx.put(f"{url}/{action}", timeout=60).raise_for_status()
        return call

    try:
        yield Side("Debezium + contract SMT (Connect JVM)", pid, put("stop"), put("resume"))
    finally:
        connect.delete_connector(cs, name)
        connect.drop_slot(settings, cs, slot, timeout_s=60)


@dataclass
class Figures:
    drain_rate: float = 0.0
    drain_cpu_per_1k: float = 0.0
    steady_rate: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    steady_cpu_per_1k: float = 0.0
    ack_p50_ms: float = float("nan")
    ack_p99_ms: float = float("nan")


def backlog_run(
    settings: ServiceSettings,
    side: Side,
    events: list[Envelope],
    figures: Figures,
) -> None:
    side.hold()
    time.sleep(1.0)
    write_backlog(settings, events)
    arrivals = Arrivals(settings, {str(e.event_id) for e in events})
    cpu0, t0 = cpu_seconds(side.pid()), time.time()
    side.release()
    try:
        last = arrivals.wait_all(timeout_s=900)
    finally:
        arrivals.close()
    cpu = cpu_seconds(side.pid()) - cpu0
    figures.drain_rate = len(events) / (last - t0)
    figures.drain_cpu_per_1k = cpu / len(events) * 1000
    console.print(f"{side.name}: drained {len(events):,} in {last - t0:.1f} s, cpu {cpu:.1f} s")


def steady_run(settings: ServiceSettings, side: Side, rate: int, seconds: float,
               figures: Figures) -> None:
    events = make_events(int(rate * seconds) + rate, keys=200)
    arrivals = Arrivals(settings, set())
    engine = make_engine(settings.database)
    writer = bench_writer()
    committed: dict[str, float] = {}
    per_tick = max(1, rate // 100)
    cpu0 = cpu_seconds(side.pid())
    started, sent = time.perf_counter(), 0
    for offset in paced_ticks(rate, seconds, per_tick):
        tick = events[offset:offset + per_tick]
        arrivals.wanted.update(str(e.event_id) for e in tick)
        with engine.begin() as conn:
            writer.append_all(conn, tick)
        now = time.time()
        for e in tick:
            committed[str(e.event_id)] = now
        sent += len(tick)
    figures.steady_rate = int(sent / (time.perf_counter() - started))
    try:
        arrivals.wait_all(timeout_s=300)
    finally:
        arrivals.close()
    cpu = cpu_seconds(side.pid()) - cpu0
    latencies = [(arrivals.seen[e] - committed[e]) * 1000 for e in committed]
    figures.p50_ms, figures.p99_ms = percentile(latencies, 50), percentile(latencies, 99)
    figures.steady_cpu_per_1k = cpu / sent * 1000
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id::text, published_at FROM outbox_events"
                                 " WHERE published_at IS NOT NULL")).all()
    engine.dispose()
    acks = [(p.timestamp() - committed[e]) * 1000 for e, p in rows if e in committed]
    if acks:
        figures.ack_p50_ms, figures.ack_p99_ms = percentile(acks, 50), percentile(acks, 99)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    add_json_option(parser)
    args = parser.parse_args()

    ready_settings(Console(stderr=True))
    base = get_stack_settings()  # Kafka Connect runs beside the local stack
    cs = connect.get_connect_settings()
    connect.start(base, cs, get_versions(), Layout.of(base), console.print, with_connector=False)
    events = make_events(args.backlog, keys=1000)
    relay, cdc = Figures(), Figures()
    with scratch_database(base) as settings, relay_process(settings) as side:
        backlog_run(settings, side, events, relay)
    with scratch_database(base) as settings, debezium(settings, cs) as side:
        backlog_run(settings, side, make_events(args.backlog, keys=1000), cdc)
    ceiling = args.backlog / raw_ceiling(base, events)
    with scratch_database(base) as settings, relay_process(settings) as side:
        steady_run(settings, side, args.rate, args.seconds, relay)
    with scratch_database(base) as settings, debezium(settings, cs) as side:
        steady_run(settings, side, args.rate, args.seconds, cdc)

    table = Table(title=f"Relay vs Debezium ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                        f"{os.cpu_count()} cores)")
    for column in ("measure", "nmc relay", "Debezium + SMT"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    table.add_row(f"drain {args.backlog:,} backlog (events/s)",
                  f"{relay.drain_rate:,.0f}", f"{cdc.drain_rate:,.0f}")
    table.add_row("  / raw producer ceiling", f"{relay.drain_rate / ceiling:.2f}",
                  f"{cdc.drain_rate / ceiling:.2f}")
    table.add_row("  CPU s per 1k events", f"{relay.drain_cpu_per_1k:.3f}",
                  f"{cdc.drain_cpu_per_1k:.3f}")
    table.add_row(f"steady load, target {args.rate}/s (committed/s)",
                  f"{relay.steady_rate:,}", f"{cdc.steady_rate:,}")
    table.add_row("  commit -> consumer p50 (ms)", f"{relay.p50_ms:.0f}", f"{cdc.p50_ms:.0f}")
    table.add_row("  commit -> consumer p99 (ms)", f"{relay.p99_ms:.0f}", f"{cdc.p99_ms:.0f}")
    table.add_row("  commit -> ack p50 / p99 (ms, relay's published_at)",
                  f"{relay.ack_p50_ms:.0f} / {relay.ack_p99_ms:.0f}", "n/a")
    table.add_row("  CPU s per 1k events", f"{relay.steady_cpu_per_1k:.3f}",
                  f"{cdc.steady_cpu_per_1k:.3f}")
    table.add_row("raw producer ceiling (events/s)", f"{ceiling:,.0f}", "")
    console.print(table)
    write_json(args.json, "cdc_side_by_side", *table_data(table))


if __name__ == "__main__":
    main()
