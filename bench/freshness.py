"""End-to-end freshness: outbox commit -> visible through the read API, at steady rates.

    .venv/bin/python -m bench.freshness [--rates 100,1000] [--seconds 15] [--sample 10]
                                        [--writers 2]

Every process runs (`LocalPlatform`: relay, stream workers, read API, ...) on a scratch
database. `--writers` processes commit ConversationStarted + MessageSent pairs (one
conversation each) at each rate; a poller asks `GET /v1/conversations/{id}` for every
`--sample`-th conversation until it shows its message. Latency = first 200 with the message
- commit time. Rows still invisible when the drain deadline passes are reported, not hidden:
a rate the workers cannot sustain shows as growing latency and a backlog.
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
import uuid
from multiprocessing import Queue
from queue import Empty

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from bench.common import (
    bench_writer,
    paced_ticks,
    percentile,
    ready_settings,
    scratch_database,
)
from bench.results import add_json_option, table_data, write_json
from nmc.contract.envelope import new_event
from nmc.demo.local_platform import LocalPlatform
from nmc.infra.bearer_tokens import mint_token
from nmc.infra.db import make_engine
from nmc.stack.settings import get_stack_settings
from nmc_streams.api.auth import token_rules as api_token_rules

console = Console()


def pair_writer(database: str, tenant: uuid.UUID, rate: float, seconds: float, start_at: float,
                sample: int, out: Queue) -> None:  # type: ignore[type-arg]
    """One writer process: commits ConversationStarted + MessageSent pairs at `rate` events/s
    in 20 ms ticks (one transaction a tick) from wall-clock `start_at`; every `sample`-th
    conversation goes to `out` with its commit time, then ("done", events written)."""
    engine = make_engine(database)
    writer = bench_writer()
    pairs = max(1, round(rate / 50 / 2))  # rate counts events, a pair is two
    written, n = 0, 0
    for _ in paced_ticks(rate, seconds, 2 * pairs, start_at):
        events, sampled = [], []
        for _ in range(pairs):
            conversation = uuid.uuid4()
            n += 1
            events.append(new_event(
                "nmc.conversation.ConversationStarted", tenant_id=tenant,
                correlation_id=conversation,
                payload={"conversation_id": str(conversation), "caller_phone": "+13105551212"}))
            events.append(new_event(
                "nmc.conversation.MessageSent", tenant_id=tenant, correlation_id=conversation,
                payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                         "direction": "out", "status": "queued"}))
            if n % sample == 0:
                sampled.append(str(conversation))
        with Session(engine) as session, session.begin():
            writer.append_all(session, events)
        committed = time.time()
        if sampled:
            out.put([(c, committed) for c in sampled])
        written += len(events)
    engine.dispose()
    out.put(("done", written))


def phase(platform: LocalPlatform, rate: int, seconds: float, sample: int,
          drain_s: float, writers: int) -> dict[str, float]:
    tenant = uuid.uuid4()
    token = mint_token(api_token_rules(platform.api_settings), tenant)
    pending: dict[str, float] = {}
    latencies: list[float] = []
    written: list[int] = []
    done = threading.Event()
    out: Queue = multiprocessing.Queue()  # type: ignore[type-arg]

    def take(block: bool) -> None:
        """Move what the writers reported into `pending` (the poller's own thread only)."""
        while True:
            try:
                item = out.get(timeout=0.01) if block else out.get_nowait()
            except Empty:
                return
            block = False
            if isinstance(item, tuple):
                written.append(item[1])
            else:
                pending.update(item)

    def poll() -> None:
        with httpx.Client(base_url=platform.api_url, timeout=5,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            while not (done.is_set() and len(written) == writers and not pending):
                take(block=not pending)
                for conversation, committed in list(pending.items()):
                    r = client.get(f"/v1/conversations/{conversation}")
                    if r.status_code == 200 and r.json()["messages"]:
                        del pending[conversation]
                        latencies.append((time.time() - committed) * 1000)
                if done.is_set() and time.monotonic() > deadline:
                    return

    deadline = float("inf")
    start_at = time.time() + 2.0  # every writer process imported and connected
    procs = [
        multiprocessing.Process(target=pair_writer, args=(
            platform.settings.database, tenant, rate / writers, seconds, start_at, sample, out))
        for _ in range(writers)
    ]
    for proc in procs:
        proc.start()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with console.status(f"{rate} events/s for {seconds:.0f}s from {writers} writer processes"):
        for proc in procs:
            proc.join()
    deadline = time.monotonic() + drain_s
    done.set()
    with console.status("draining"):
        poller.join(timeout=drain_s + 10)
    late = len(pending)
    return {"rate": rate, "achieved": sum(written) / seconds, "samples": len(latencies),
            "late": late, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="100,1000")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--drain", type=float, default=60.0)
    parser.add_argument("--writers", type=int, default=2,
                        help="writer processes (one Python writer cannot commit 3,000 events/s)")
    add_json_option(parser)
    args = parser.parse_args()
    ready_settings(Console(stderr=True))
    base = get_stack_settings()  # the demo's platform runs beside the local stack
    rows = []
    logs = base.nmc_home / "logs" / "freshness"
    with scratch_database(base, prefix="nmc_fresh") as settings, \
            LocalPlatform(settings, logs) as platform:
        time.sleep(5)  # let the workers join their groups before the clock starts
        for rate in (int(r) for r in args.rates.split(",")):
            rows.append(phase(platform, rate, args.seconds, args.sample, args.drain,
                             args.writers))
    table = Table(title="Freshness: outbox commit -> visible in GET /v1/conversations/{id}")
    for column in ("target ev/s", "committed ev/s", "p50 ms", "p99 ms", "samples",
                   f"not visible after {args.drain:.0f}s drain"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(f"{r['rate']:.0f}", f"{r['achieved']:.0f}", f"{r['p50']:.0f}",
                      f"{r['p99']:.0f}", f"{r['samples']:.0f}", f"{r['late']:.0f}")
    console.print(table)
    write_json(args.json, "freshness", *table_data(table))


if __name__ == "__main__":
    main()
