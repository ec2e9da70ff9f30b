"""Writers benchmark: outbox appends/s with 1, 4 and 16 concurrent writer connections (one
event per transaction, as a webhook writes), with the old per-statement NOTIFY trigger put
back and without it (migration 0006), same run.

    .venv/bin/python -m bench.writers [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from bench.common import bench_writer, ready_settings, scratch_database
from bench.relay import make_events
from nmc.infra.db import make_engine

console = Console()
_TRIGGER = """
CREATE FUNCTION outbox_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('nmc_outbox', ''); RETURN NULL; END $$;
CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_notify();
"""


def appends_per_s(engine: Engine, writers: int, seconds: float) -> float:
    """Commits/s of `writers` threads, each on its own connection, one event a transaction."""
    counts = [0] * writers
    start = threading.Barrier(writers + 1)

    def write(i: int) -> None:
        writer, events = bench_writer(), iter(make_events(60_000 // writers, keys=100))
        with engine.connect() as conn:
            start.wait()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                with conn.begin():
                    writer.append(conn, next(events))
                counts[i] += 1

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    base = ready_settings(Console(stderr=True))
    table = Table(title=f"Outbox writers ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    table.add_column("writer connections")
    table.add_column("with NOTIFY trigger", justify="right")
    table.add_column("without (0006)", justify="right")
    table.add_column("ratio", justify="right")
    for writers in (1, 4, 16):
        rates = []
        for notify in (True, False):
            with scratch_database(base, prefix=f"nmc_bench_w{uuid.uuid4().hex[:4]}") as s:
                engine = make_engine(s.database, pool_size=writers + 1)
                if notify:
                    with engine.begin() as conn:
                        conn.execute(text(_TRIGGER))
                rates.append(appends_per_s(engine, writers, args.seconds))
                engine.dispose()
        table.add_row(str(writers), f"{rates[0]:,.0f}/s", f"{rates[1]:,.0f}/s",
                      f"{rates[1] / rates[0]:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
