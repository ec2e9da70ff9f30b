"""Paired A/B of two checkouts of the read API on one seeded database, interleaved in time.

    .venv/bin/python -m bench.api_ab --base /path/to/other/checkout [--rounds 3] [--seconds 3]

On a shared machine the load of other processes moves every figure by 2-4x between minutes,
so two `bench.api` runs one after the other compare badly. Here both servers run at once (the
base one from `--base`'s `stream-apps` and `nmc`, on this checkout's schema) and, per
endpoint, `--rounds` slices of `--seconds` alternate between them (order flipped each round),
so both see the same neighbours. Reported per side: req/s ÷ the same side's `/healthz`,
p50/p99 over all its slices, and server CPU µs per request. Endpoints are `bench.api`'s,
its "304" rows included (each side polls with the tags it gave itself just before).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bench.api import (
    SECRET,
    Endpoint,
    Result,
    conditional,
    current_tags,
    endpoints,
    load,
    seed,
    server_cpu_s,
    start_server,
)
from bench.common import percentile, ready_settings, scratch_database
from nmc.infra.net import free_port
from nmc_streams.api.auth import issue_token
from nmc_streams.api.settings import ApiSettings

console = Console(width=160)


@contextmanager
def _pythonpath(value: str | None) -> Iterator[None]:
    old = os.environ.get("PYTHONPATH")
    if value is not None:
        os.environ["PYTHONPATH"] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    base = args.base.resolve()
    settings = ready_settings(console)
    with scratch_database(settings, prefix="nmc_bench_api_ab") as bench:
        seeded = seed(bench.database, args.conversations)
        ports = {"base": free_port(), "new": free_port()}
        servers = {}
        with _pythonpath(f"{base}:{base / 'stream-apps'}"):
            servers["base"] = start_server(bench.database, ports["base"], args.workers)
        servers["new"] = start_server(bench.database, ports["new"], args.workers)
        token = issue_token(ApiSettings(jwt_secret=SecretStr(SECRET)),
                            uuid.UUID(seeded.tenant), ttl_s=3600)
        results: dict[tuple[str, str], Result] = {}
        tags = {side: current_tags(ports[side], token, seeded) for side in ports}
        probes: dict[str, dict[str, tuple[Endpoint, dict[str, str] | None]]] = {
            name: {side: (make, None) for side in ports}
            for name, make in endpoints(seeded).items()}
        for name in tags["new"]:
            probes[name] = {side: (conditional(tags[side][name]), tags[side][name])
                            for side in ports}
        try:
            for name, sides in probes.items():
                for r in range(args.rounds):
                    for side in (("base", "new") if r % 2 == 0 else ("new", "base")):
                        make, tagged = sides[side]
                        before = server_cpu_s(servers[side].pid)
                        res = asyncio.run(load(ports[side], token, make, args.concurrency,
                                               args.seconds, tagged))
                        total = results.setdefault((name, side), Result())
                        total.latencies += res.latencies
                        total.errors += res.errors
                        total.elapsed += res.elapsed
                        total.server_cpu_s += server_cpu_s(servers[side].pid) - before
                console.print(f"  {name}")
        finally:
            for proc in servers.values():
                proc.terminate()
                proc.wait(timeout=30)

    def rps(name: str, side: str) -> float:
        res = results[name, side]
        return len(res.latencies) / res.elapsed

    table = Table("endpoint", "base ÷ healthz", "new ÷ healthz", "base p50/p99 ms",
                  "new p50/p99 ms", "base CPU µs", "new CPU µs", "new/base CPU", "unexpected",
                  title=f"A/B interleaved: {args.rounds} x {args.seconds:g} s per side, "
                        f"{args.concurrency} clients, {args.workers} worker(s), "
                        f"{os.cpu_count()} cores; base = {base}")
    health = next(iter(probes))
    for name in probes:
        cells = []
        per_req: dict[str, float] = {}
        for side in ("base", "new"):
            res = results[name, side]
            per_req[side] = res.server_cpu_s / max(1, len(res.latencies)) * 1e6
            cells.append(f"{rps(name, side) / rps(health, side):.2f} ({rps(name, side):.0f}/s)")
        for side in ("base", "new"):
            lat = results[name, side].latencies
            cells.append(f"{percentile(lat, 50) * 1e3:.1f} / {percentile(lat, 99) * 1e3:.1f}")
        cells += [f"{per_req['base']:.0f}", f"{per_req['new']:.0f}",
                  f"{per_req['new'] / per_req['base']:.2f}",
                  f"{results[name, 'base'].errors}/{results[name, 'new'].errors}"]
        table.add_row(name, *cells)
    console.print(table)


if __name__ == "__main__":
    main()
