"""End-to-end freshness: outbox commit -> visible through the read API, at steady rates.

    .venv/bin/python -m bench.freshness [--rates 100,1000] [--seconds 15] [--sample 10]

Every process runs (`LocalPlatform`: relay, stream workers, read API, ...) on a scratch
database. Writers commit ConversationStarted + MessageSent pairs (one conversation each) at
each rate; a poller asks `GET /v1/conversations/{id}` for every `--sample`-th conversation
until it shows its message. Latency = first 200 with the message - commit time. Rows still
invisible when the drain deadline passes are reported, not hidden: a rate the workers cannot
sustain shows as growing latency and a backlog.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from bench.common import percentile, ready_settings, scratch_database
from nmc.contract.envelope import new_event
from nmc.demo.local_platform import LocalPlatform
from nmc.infra.bearer_tokens import mint_token
from nmc.infra.db import make_engine
from nmc_streams.api.auth import token_rules as api_token_rules
from producers.outbox import OutboxWriter

console = Console()


def phase(platform: LocalPlatform, rate: int, seconds: float, sample: int,
          drain_s: float) -> dict[str, float]:
    tenant = uuid.uuid4()
    token = mint_token(api_token_rules(platform.api_settings), tenant)
    engine = make_engine(platform.settings.database)
    writer = OutboxWriter()
    pending: dict[uuid.UUID, float] = {}
    latencies: list[float] = []
    lock, done = threading.Lock(), threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=platform.api_url, timeout=5,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            while not (done.is_set() and not pending):
                with lock:
                    todo = list(pending.items())
                for conversation, committed in todo:
                    r = client.get(f"/v1/conversations/{conversation}")
                    if r.status_code == 200 and r.json()["messages"]:
                        with lock:
                            pending.pop(conversation, None)
                            latencies.append((time.time() - committed) * 1000)
                if not todo:
                    time.sleep(0.01)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    per_tick = max(1, rate // 50)  # pairs are 2 events: rate counts events
    pairs = max(1, per_tick // 2)
    written, n = 0, 0
    started = time.perf_counter()
    with console.status(f"{rate} events/s for {seconds:.0f}s"):
        while time.perf_counter() - started < seconds:
            events, sampled = [], []
            for _ in range(pairs):
                conversation = uuid.uuid4()
                n += 1
                events.append(new_event(
                    "nmc.conversation.ConversationStarted", tenant_id=tenant,
                    correlation_id=conversation,
                    payload={"conversation_id": str(conversation),
                             "caller_phone": "+13105551212"}))
                events.append(new_event(
                    "nmc.conversation.MessageSent", tenant_id=tenant, correlation_id=conversation,
                    payload={"message_id": str(uuid.uuid4()),
                             "conversation_id": str(conversation),
                             "direction": "out", "status": "queued"}))
                if n % sample == 0:
                    sampled.append(conversation)
            with Session(engine) as session, session.begin():
                writer.append_all(session, events)
            committed = time.time()
            with lock:
                for conversation in sampled:
                    pending[conversation] = committed
            written += len(events)
            delay = started + written / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    achieved = written / (time.perf_counter() - started)
    deadline = time.monotonic() + drain_s
    with console.status("draining"):
        while pending and time.monotonic() < deadline:
            time.sleep(0.2)
    done.set()
    with lock:
        late = len(pending)
        pending.clear()
    poller.join(timeout=10)
    engine.dispose()
    return {"rate": rate, "achieved": achieved, "samples": len(latencies), "late": late,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="100,1000")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--drain", type=float, default=60.0)
    args = parser.parse_args()
    base = ready_settings(Console(stderr=True))
    rows = []
    logs = base.nmc_home / "logs" / "freshness"
    with scratch_database(base, prefix="nmc_fresh") as settings, \
            LocalPlatform(settings, logs) as platform:
        time.sleep(5)  # let the workers join their groups before the clock starts
        for rate in (int(r) for r in args.rates.split(",")):
            rows.append(phase(platform, rate, args.seconds, args.sample, args.drain))
    table = Table(title="Freshness: outbox commit -> visible in GET /v1/conversations/{id}")
    for column in ("target ev/s", "committed ev/s", "p50 ms", "p99 ms", "samples",
                   f"not visible after {args.drain:.0f}s drain"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(f"{r['rate']:.0f}", f"{r['achieved']:.0f}", f"{r['p50']:.0f}",
                      f"{r['p99']:.0f}", f"{r['samples']:.0f}", f"{r['late']:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
