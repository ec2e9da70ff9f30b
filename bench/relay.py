"""Relay benchmark: backlog drain with one and two relays vs the raw producer ceiling,
commit -> ack latency at a steady rate, and the writer's cost inside a business transaction.

    .venv/bin/python -m bench.relay [--backlog 100000] [--rate 5000] [--seconds 20]
                                    [--appends 2000] [--writers 2]

1. Drain: relays (`nmc relay` processes, as deployed) start while the bench holds every lane
   lease; a backlog of MessageSent events is written in 1,000-event transactions; the bench
   then lets the leases go and the drain time runs from that moment to the last row's
   `published_at`. Once with one relay, once with two.
2. Ceiling, in the same run: confluent-kafka producing the same records (same Avro values,
   keys, headers, producer config) straight from memory.
3. Steady load: `--writers` processes together commit `--rate` events/s (each in 10 ms ticks,
   one transaction a tick) for `--seconds` with one relay running; latency is commit -> Kafka
   ack (`published_at`, written right after the ack), p50/p99.
4. Writer: `OutboxWriter.append` timed per event inside transactions of 1 and of 10 events.

`--tracing both` measures instead what tracing costs (docs/operating/tracing.md): one relay
drains the backlog, every row written with a `traceparent`, with tracing off, on (a `publish`
span per row, written to a JSON-lines file, `NMC_TRACES_DIR`), then off again; the figures are
the on/off ratios of events/s and of the relay's CPU per event (the second "off" shows the
run-to-run noise). `--baseline-code CHECKOUT` adds two drains by the relay code of another
checkout (a worktree of the commit before tracing landed: `git worktree add --detach
/tmp/pretrace f7f4a6a^1`), interleaved with the off runs: what tracing costs when off.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from confluent_kafka import Producer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text

from bench.common import (
    bench_writer,
    paced_ticks,
    percentile,
    ready_settings,
    scratch_database,
)
from bench.results import add_json_option, table_data, write_json
from nmc.contract.envelope import Envelope, new_event
from nmc.contract.payload import format_rfc3339_utc
from nmc.contract.schemas import default_catalog
from nmc.infra.db import make_engine, psycopg_dsn
from nmc.infra.kafka_clients import producer_config
from nmc.infra.net import free_port
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings
from producers.outbox import OUTBOX_LANES
from producers.relay.publisher import KafkaPublisher
from producers.relay.store import APPLICATION_NAME as RELAY_APPLICATION
from producers.relay.store import LANE_LOCK_CLASS, OutboxRow
from producers.relay.versions import ConfluentVersions, WriterSchemas
from tests.support.streams import synthetic_traceparent

console = Console()

GOAL_DRAIN = 30_000
GOAL_RATIO = 0.25
GOAL_P99_MS = 20.0


def make_events(n: int, keys: int) -> list[Envelope]:
    tenant = uuid.uuid4()
    conversations = [uuid.uuid4() for _ in range(keys)]
    return [
        new_event(
            "nmc.conversation.MessageSent", tenant_id=tenant,
            correlation_id=conversations[i % keys],
            payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversations[0]),
                     "direction": "out", "status": "queued"},
        )
        for i in range(n)
    ]


def write_backlog(settings: ServiceSettings, events: list[Envelope], chunk: int = 1000,
                  traced: bool = False) -> float:
    """Write `events` through the OutboxWriter in transactions of `chunk`; returns seconds.
    `traced`: each row gets a `traceparent` (a trace of its own), as a tracing writer's do."""
    engine = make_engine(settings.database)
    writer = bench_writer()
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("writing backlog", total=len(events))
        for i in range(0, len(events), chunk):
            with engine.begin() as conn:
                part = events[i : i + chunk]
                writer.append_all(conn, part, [synthetic_traceparent() for _ in part]
                                  if traced else None)
            progress.advance(task, min(chunk, len(events) - i))
    engine.dispose()
    return time.perf_counter() - started


def pending(settings: ServiceSettings) -> int:
    engine = make_engine(settings.database)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM outbox_events WHERE state = 'pending'"))
        value = int(n.scalar_one())
    engine.dispose()
    return value


# --- relay processes ---------------------------------------------------------------------


def _health(port: int) -> dict[str, object]:
    try:
        body: dict[str, object] = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return body


def start_relays(settings: ServiceSettings, count: int, logs: Path, lanes_free: bool = True,
                 extra_env: dict[str, str] | None = None,
                 code: Path | None = None) -> list[subprocess.Popen[bytes]]:
    """`count` relay processes, returned once they hold every lane between them (or, when
    the lanes are held elsewhere, once each is connected and waiting). `code`: another
    checkout whose `nmc` and `producers` packages the relays run instead of this one's."""
    ports = [free_port() for _ in range(count)]
    procs = []
    for i, port in enumerate(ports):
        env = dict(os.environ, DATABASE_URL=settings.database,
                   NMC_RELAY_METRICS_PORT=str(port), NMC_RELAY_POLL_INTERVAL_S="0.2",
                   **(extra_env or {}))
        if code is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(code), str(code / "stream-apps")])
        with (logs / f"relay-{count}-{i}.log").open("ab") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", "nmc.cli", "relay"], env=env,
                                          stdout=out, stderr=subprocess.STDOUT))
    share = -(-OUTBOX_LANES // count)

    def ready() -> bool:
        bodies = [_health(p) for p in ports]
        if lanes_free:
            return all(b.get("lanes_held") == share for b in bodies)
        return all(b.get("postgres_connected") and b.get("kafka_connected") for b in bodies)

    deadline = time.monotonic() + 120
    while not ready():
        if time.monotonic() > deadline:
            stop_relays(procs)
            raise RuntimeError(f"relays did not get ready; logs in {logs}")
        time.sleep(0.2)
    return procs


def stop_relays(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=60)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a local process so far (None when it is not visible)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def relay_backends(database: str) -> list[int]:
    """Server pids of the relays' PostgreSQL sessions in this database."""
    with psycopg.connect(psycopg_dsn(database), autocommit=True) as conn:
        return [int(r[0]) for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name LIKE %s", (f"{RELAY_APPLICATION} %",))]


def drain(base: ServiceSettings, events: list[Envelope], relays: int, logs: Path,
          traces: Path | None = None, traced_rows: bool | None = None,
          code: Path | None = None) -> tuple[float, float, float | None, float]:
    """Seconds for `relays` relays to publish a backlog, from the moment they may start, the
    CPU microseconds per event of the relay processes and of their PostgreSQL sessions
    (None when PostgreSQL is not on this host), and the share of rows the writer stored with
    their Avro value (the rest were encoded by the relay).

    The bench holds every lane lease while the relays start and the backlog is written in
    1,000-event transactions; releasing the leases starts the clock (the relays lease the lanes
    at their next rebalance, within `NMC_RELAY_POLL_INTERVAL_S`, which counts against them).
    The sessions' CPU includes their idle polling before the drain (a few milliseconds).
    `traces`: the relays trace, writing their spans there; `traced_rows` (default: whether
    `traces` is given): the rows carry a `traceparent`. `code`: see `start_relays`.
    """
    if traced_rows is None:
        traced_rows = traces is not None
    with scratch_database(base) as settings:
        blocker = psycopg.connect(psycopg_dsn(settings.database), autocommit=True)
        for lane in range(OUTBOX_LANES):
            blocker.execute("SELECT pg_advisory_lock(%s, %s)", (LANE_LOCK_CLASS, lane))
        procs = start_relays(settings, relays, logs, lanes_free=False, extra_env=None
                             if traces is None else {"NMC_TRACES_DIR": str(traces)},
                             code=code)
        try:
            write_backlog(settings, events, traced=traced_rows)
            relay_cpu = sum(cpu_seconds(p.pid) or 0.0 for p in procs)
            started = time.time()
            blocker.close()  # the leases go with the session: the relays may start
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"{relays} relay(s) draining", total=len(events))
                while (left := pending(settings)) > 0:
                    progress.update(task, completed=len(events) - left)
                    time.sleep(0.2)
            relay_cpu = sum(cpu_seconds(p.pid) or 0.0 for p in procs) - relay_cpu
            sessions = [cpu_seconds(pid) for pid in relay_backends(settings.database)]
            pg_cpu = None if None in sessions else sum(c or 0.0 for c in sessions)
            engine = make_engine(settings.database)
            with engine.connect() as conn:
                last, stored = conn.execute(text(
                    "SELECT extract(epoch FROM max(published_at)),"
                    " avg((avro_value IS NOT NULL)::int) FROM outbox_events")).one()
            engine.dispose()
        finally:
            blocker.close()
            stop_relays(procs)
    per_event = 1e6 / len(events)
    return (float(last) - started, relay_cpu * per_event,
            None if pg_cpu is None else pg_cpu * per_event, float(stored or 0.0))


# --- the raw producer ceiling --------------------------------------------------------------


def raw_ceiling(settings: ServiceSettings, events: list[Envelope]) -> tuple[float, float]:
    """Same records, pre-serialized, produced from memory with the relay's producer config;
    seconds, and CPU microseconds per event of this process (librdkafka's threads included)."""
    registry = ConfluentVersions(registry_client(settings))
    encoder = KafkaPublisher(Producer(producer_config(settings)),
                             WriterSchemas(default_catalog(), registry), 30.0, registry=registry)
    records = []
    for i, e in enumerate(events):
        row = OutboxRow(
            id=i, event_id=str(e.event_id), event_name=e.event_name,
            schema_version=e.schema_version, tenant_id=str(e.tenant_id),
            correlation_id=str(e.correlation_id),
            causation_id=None if e.causation_id is None else str(e.causation_id),
            occurred_at=format_rfc3339_utc(e.occurred_at),
            occurred_ms=int(e.occurred_at.timestamp() * 1000), payload=e.payload,
            topic=e.topic, record_key=e.key, attempts=0, created_epoch_s=time.time(), lane=0,
        )
        value, headers = encoder.encode(row)
        records.append((e.topic, e.key.encode(), value, headers, row.occurred_ms))
    encoder.close()
    producer = Producer(producer_config(settings))
    started, cpu_started = time.perf_counter(), time.process_time()
    for topic, key, value, headers, ts in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    return time.perf_counter() - started, (time.process_time() - cpu_started) * 1e6 / len(events)


# --- steady load -------------------------------------------------------------------------


def steady_writer(database: str, rate: float, seconds: float, start_at: float,
                  seed: int) -> dict[str, float]:
    """One writer process: commits `rate` events/s in 10 ms ticks (one transaction a tick)
    from wall-clock `start_at`; returns each event's commit time (epoch seconds)."""
    engine = make_engine(database)
    writer = bench_writer()
    per_tick = max(1, round(rate / 100))
    events = make_events(int(rate * seconds) + per_tick, keys=50 + seed)
    committed: dict[str, float] = {}
    for offset in paced_ticks(rate, seconds, per_tick, start_at):
        tick = events[offset : offset + per_tick]
        with engine.begin() as conn:
            writer.append_all(conn, tick)
        now = time.time()
        for e in tick:
            committed[str(e.event_id)] = now
    engine.dispose()
    return committed


def steady_latency(base: ServiceSettings, rate: int, seconds: float, logs: Path,
                   writers: int) -> tuple[list[float], int]:
    """Commit `rate` events/s from `writers` processes (one Python writer cannot commit
    5,000 events/s on this machine) with one relay running; commit -> ack in ms."""
    with scratch_database(base) as settings:
        procs = start_relays(settings, 1, logs)
        try:
            start_at = time.time() + 2.0  # every writer process imported and connected
            with ProcessPoolExecutor(writers) as pool:
                futures = [pool.submit(steady_writer, settings.database, rate / writers,
                                       seconds, start_at, i) for i in range(writers)]
                committed: dict[str, float] = {}
                for future in futures:
                    committed.update(future.result())
            achieved = len(committed) / seconds
            while pending(settings) > 0:
                time.sleep(0.2)
            engine = make_engine(settings.database)
            with engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT event_id::text, extract(epoch FROM published_at) FROM outbox_events"
                    " WHERE state = 'published'"))
                latencies = [(float(published) - committed[eid]) * 1000
                             for eid, published in rows if eid in committed]
            engine.dispose()
        finally:
            stop_relays(procs)
    return latencies, int(achieved)


# --- the writer inside a business transaction --------------------------------------------


def writer_cost(base: ServiceSettings, appends: int, per_transaction: int) -> list[float]:
    """Microseconds per `OutboxWriter.append` call, `per_transaction` calls a transaction."""
    events = make_events(appends, keys=max(1, appends // 4))
    with scratch_database(base) as settings:
        engine = make_engine(settings.database)
        writer = bench_writer()
        costs: list[float] = []
        for i in range(0, len(events), per_transaction):
            with engine.begin() as conn:
                for event in events[i : i + per_transaction]:
                    t0 = time.perf_counter()
                    writer.append(conn, event)
                    costs.append((time.perf_counter() - t0) * 1e6)
        engine.dispose()
    return costs


def _verdict(met: bool) -> str:
    return "[green]goal met[/]" if met else "[red]goal not met[/]"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=2,
                        help="writer processes of the steady load")
    parser.add_argument("--tracing", choices=("off", "both"), default="off",
                        help="both: measure one relay's drain with tracing off / on / off")
    parser.add_argument("--baseline-code", type=Path, default=None, metavar="CHECKOUT",
                        help="with --tracing both: also drain with the relay code of this "
                             "checkout (e.g. a worktree of the commit before tracing), "
                             "interleaved with the off runs")
    add_json_option(parser)
    args = parser.parse_args()

    base = ready_settings(Console(stderr=True))
    logs = Path(tempfile.mkdtemp(prefix="nmc-bench-relay-"))
    if args.tracing == "both":
        tracing_cost(base, args, logs)
        return
    events = make_events(args.backlog, keys=1000)
    one_s, one_cpu, one_pg, one_stored = drain(base, events, 1, logs)
    two_s, _, _, _ = drain(base, make_events(args.backlog, keys=1000), 2, logs)
    ceiling_s, ceiling_cpu = raw_ceiling(base, events)
    latencies, achieved = steady_latency(base, args.rate, args.seconds, logs, args.writers)
    single = writer_cost(base, args.appends, 1)
    tens = writer_cost(base, args.appends, 10)

    one, two, ceiling = args.backlog / one_s, args.backlog / two_s, args.backlog / ceiling_s
    p99 = percentile(latencies, 99)
    table = Table(title=f"Relay benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
                        f"psycopg dsn {psycopg_dsn(base.database).split('@')[-1]})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal")
    table.add_row(f"drain of a {args.backlog:,} backlog, one relay", f"{one:,.0f} events/s",
                  _verdict(one >= GOAL_DRAIN))
    table.add_row(f"drain of a {args.backlog:,} backlog, two relays", f"{two:,.0f} events/s",
                  _verdict(two > one))
    table.add_row("raw producer ceiling (same records)", f"{ceiling:,.0f} events/s", "")
    table.add_row("raw producer CPU per event", f"{ceiling_cpu:.1f} µs", "")
    table.add_row("one relay / ceiling", f"{one / ceiling:.2f}",
                  _verdict(one / ceiling >= GOAL_RATIO))
    table.add_row("two relays / ceiling", f"{two / ceiling:.2f}", "")
    table.add_row("one relay's CPU per event: relay process / its PostgreSQL sessions",
                  f"{one_cpu:.1f} µs / " + ("n/a" if one_pg is None else f"{one_pg:.1f} µs"),
                  "")
    table.add_row("one relay's drain: rows stored with their Avro value by the writer",
                  f"{one_stored:.1%}", "")
    table.add_row(f"steady load (target {args.rate:,}/s)", f"{achieved:,} events/s committed", "")
    table.add_row("commit -> ack p50", f"{percentile(latencies, 50):.1f} ms", "")
    table.add_row("commit -> ack p99", f"{p99:.1f} ms", _verdict(p99 <= GOAL_P99_MS))
    table.add_row("latency samples", f"{len(latencies):,}", "")
    table.add_row("OutboxWriter.append, 1 event/transaction, p50 / p99",
                  f"{percentile(single, 50):,.0f} / {percentile(single, 99):,.0f} µs", "")
    table.add_row("OutboxWriter.append, 10 events/transaction, p50 / p99",
                  f"{percentile(tens, 50):,.0f} / {percentile(tens, 99):,.0f} µs", "")
    console.print(table)
    console.print(f"relay logs: {logs}")
    write_json(args.json, "relay", *table_data(table))


def tracing_cost(base: ServiceSettings, args: argparse.Namespace, logs: Path) -> None:
    """One relay drains a backlog whose rows all carry a `traceparent`: tracing off, on, off;
    with `--baseline-code`, the same drain by the code from before tracing, interleaved."""
    plan: list[tuple[str, Path | None, Path | None]] = [
        ("off", None, None), ("on", logs / "traces", None), ("off again", None, None)]
    if args.baseline_code is not None:
        plan = [("before tracing", None, args.baseline_code), plan[0],
                ("before tracing, again", None, args.baseline_code), *plan[1:]]
    runs: dict[str, tuple[float, float]] = {}
    for label, traces, code in plan:
        seconds, cpu, _, _ = drain(base, make_events(args.backlog, keys=1000), 1, logs,
                                   traces, traced_rows=True, code=code)
        runs[label] = (args.backlog / seconds, cpu)
    spans = sum(len(p.read_text().splitlines()) for p in (logs / "traces").glob("*.jsonl"))

    def mean(*labels: str) -> tuple[float, float]:
        return (sum(runs[x][0] for x in labels) / len(labels),
                sum(runs[x][1] for x in labels) / len(labels))

    off = mean("off", "off again")
    table = Table(title=f"Relay tracing cost ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
                        f"{args.backlog:,}-row backlog, every row with a traceparent)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, _, _ in plan:
        rate, cpu = runs[label]
        table.add_row(f"one relay, {label if label.startswith('before') else 'tracing ' + label}"
                      ": drain / relay CPU per event", f"{rate:,.0f} events/s / {cpu:.1f} µs")
    table.add_row("on / mean(off): events/s", f"{runs['on'][0] / off[0]:.2f}")
    table.add_row("on / mean(off): relay CPU per event", f"{runs['on'][1] / off[1]:.2f}")
    table.add_row("second off / first off: events/s (noise)",
                  f"{runs['off again'][0] / runs['off'][0]:.2f}")
    if args.baseline_code is not None:
        before = mean("before tracing", "before tracing, again")
        table.add_row("mean(off) / mean(before tracing): events/s", f"{off[0] / before[0]:.2f}")
        table.add_row("mean(off) / mean(before tracing): relay CPU per event",
                      f"{off[1] / before[1]:.2f}")
        table.add_row("second before / first before: events/s (noise)",
                      f"{runs['before tracing, again'][0] / runs['before tracing'][0]:.2f}")
    table.add_row("publish spans written (on)", f"{spans:,}")
    console.print(table)
    write_json(args.json, "relay_tracing", *table_data(table), module="relay")

if __name__ == "__main__":
    main()
