"""Read API benchmark: requests/s and latency per endpoint under concurrent clients, with
`/healthz` in the same run as the baseline (the cost of HTTP + FastAPI with no database).

    .venv/bin/python -m bench.api [--conversations 5000] [--concurrency 16] [--seconds 10]
                                  [--workers 1]

1. A fresh migrated database is seeded with `--conversations` conversations for the measured
   tenant (4 messages each), as many for a second tenant (noise the tenant filter must skip),
   appointments and holds on 20 resources, 90 days of report facts, campaigns, a subscription.
2. uvicorn serves `nmc_streams.api` in a subprocess on a free port (`--workers` processes).
3. For each endpoint in turn, `--concurrency` asyncio clients (raw HTTP/1.1 keep-alive) send
   requests back to back for `--seconds`; every request varies its ids/cursors/windows.
   The "304" rows send `If-None-Match` with the tag each URL answered just before (an inbox
   polling an unchanged screen); any other status than 304 counts as unexpected there.

The load generator runs on the same machine as the server and competes for its cores, so
absolute numbers are a floor; the endpoint/healthz ratio is the figure to compare across runs.
On a shared machine other processes move both; the server's own CPU time per request
(`srv CPU µs`, user + system of the uvicorn processes over the run) moves much less, so it is
reported too, and so is PostgreSQL's (`db CPU µs`: the backends of the API's pools, found by
their `application_name`; only when PostgreSQL runs on this machine). No figure is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, text

from bench.common import (
    percentile,
    ready_settings,
    scratch_database,
)
from bench.results import add_json_option, table_data, write_json
from nmc.infra.db import make_engine
from nmc.infra.net import free_port
from nmc_streams import db as read_models
from nmc_streams.api.auth import issue_token
from nmc_streams.api.cursor import ConversationKey, encode
from nmc_streams.api.settings import ApiSettings

console = Console(width=150)  # no truncated endpoint names in the table
T0 = datetime(2026, 3, 1, tzinfo=UTC)
SECRET = "bench-secret-" + uuid.uuid4().hex + uuid.uuid4().hex


@dataclass
class Seeded:
    tenant: str
    conversations: list[tuple[datetime, str]] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)


def _u() -> str:
    return str(uuid.uuid4())


def seed(url: str, n: int) -> Seeded:
    engine = make_engine(url)
    measured = Seeded(_u())
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in (
        "conv_conversations", "conv_messages", "sched_holds", "sched_appointments",
        "rpt_facts", "rpt_compliance", "rpt_subscriptions")}
    for tenant in (measured.tenant, _u()):
        for i in range(n):
            cid, at = _u(), T0 + timedelta(seconds=random.randrange(90 * 86400))
            if tenant == measured.tenant:
                measured.conversations.append((at, cid))
            rows["conv_conversations"].append({
                "tenant_id": tenant, "conversation_id": cid, "correlation_id": _u(),
                "caller_phone": f"+1555{i:07d}", "status": random.choice(["open", "closed"]),
                "started_at": at - timedelta(hours=1), "last_activity_at": at,
                "opened_by_call_id": None, "takeover_user_id": None, "takeover_at": None,
                "message_count": 4, "version": 1})
            for m in range(4):
                rows["conv_messages"].append({
                    "tenant_id": tenant, "message_id": _u(), "conversation_id": cid,
                    "correlation_id": _u(), "direction": "in" if m % 2 else "out",
                    "status": "delivered", "status_at": at, "first_seen_at": at + timedelta(m),
                    "from_phone": "+15550000001", "to_phone": "+15550000002",
                    "body": "Hi, can I book for tomorrow?", "provider_ref": f"SM{m}",
                    "error_code": None, "version": 1})
        for _ in range(20):
            resource = _u()
            if tenant == measured.tenant:
                measured.resources.append(resource)
            for slot in range(90 * 8):  # 8 slots a day for 90 days
                start = T0 + timedelta(days=slot // 8, hours=9 + slot % 8)
                hold_id, appt_id = _u(), _u()
                rows["sched_holds"].append({
                    "tenant_id": tenant, "hold_id": hold_id, "correlation_id": _u(),
                    "resource_id": resource, "start_at": start,
                    "end_at": start + timedelta(minutes=45), "status": "booked",
                    "held_at": start, "released_at": None, "appointment_id": appt_id,
                    "version": 1})
                rows["sched_appointments"].append({
                    "tenant_id": tenant, "appointment_id": appt_id, "correlation_id": _u(),
                    "resource_id": resource, "start_at": start,
                    "end_at": start + timedelta(minutes=45), "service_item_id": None,
                    "customer_phone": "+15550000003", "hold_id": hold_id, "status": "booked",
                    "booked_at": start, "cancelled_at": None, "cancelled_reason": None,
                    "version": 1})
        for day in range(90):
            for k in range(30):
                metric = random.choice(["missed_call", "converted_call", "message", "booking"])
                rows["rpt_facts"].append({
                    "tenant_id": tenant, "metric": metric, "entity_id": _u(),
                    "day": T0.date() + timedelta(day), "dimension": "busy" if k % 2 else "in",
                    "correlation_id": _u(), "version": 1})
        for _ in range(10):
            campaign = _u()
            if tenant == measured.tenant:
                measured.campaigns.append(campaign)
            rows["rpt_compliance"].append({"tenant_id": tenant, "campaign_id": campaign,
                                           "status": "approved", "changed_at": T0,
                                           "event_id": _u()})
        rows["rpt_subscriptions"].append({
            "tenant_id": tenant, "status": "active", "plan": "pro", "stripe_customer_id": "cus",
            "stripe_subscription_id": "sub", "current_period_end": T0 + timedelta(30),
            "changed_at": T0, "event_id": _u()})
    try:
        with engine.begin() as conn:
            for name, values in rows.items():
                for i in range(0, len(values), 5000):
                    conn.execute(insert(read_models.metadata.tables[name]), values[i:i + 5000])
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    measured.conversations.sort(reverse=True)
    return measured



def start_server(database_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url, "NMC_API_JWT_SECRET": SECRET,
           "NMC_API_LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "uvicorn", "nmc_streams.api.cli:app_from_env", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}")
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("uvicorn did not become ready within 60 s")


Endpoint = Callable[[random.Random], tuple[str, dict[str, str]]]


def endpoints(s: Seeded) -> dict[str, Endpoint]:
    cursors = [encode(ConversationKey(at, uuid.UUID(cid)))
               for at, cid in s.conversations[:: max(1, len(s.conversations) // 200)]]

    def window(r: random.Random) -> dict[str, str]:
        start = T0 + timedelta(days=r.randrange(85))
        return {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}

    def days(r: random.Random) -> dict[str, str]:
        start = T0.date() + timedelta(r.randrange(60))
        return {"from": str(start), "to": str(start + timedelta(29))}

    return {
        "GET /healthz": lambda r: ("/healthz", {}),
        "GET /v1/conversations?limit=50": lambda r: ("/v1/conversations", {"limit": "50"}),
        "GET /v1/conversations?status=open&cursor=…": lambda r: (
            "/v1/conversations", {"status": "open", "limit": "50",
                                  "cursor": r.choice(cursors)}),
        "GET /v1/conversations/{id}": lambda r: (
            f"/v1/conversations/{r.choice(s.conversations)[1]}", {}),
        "GET /v1/resources/{id}/appointments (1 day)": lambda r: (
            f"/v1/resources/{r.choice(s.resources)}/appointments", window(r)),
        "GET /v1/resources/{id}/holds (1 day)": lambda r: (
            f"/v1/resources/{r.choice(s.resources)}/holds", window(r)),
        "GET /v1/reports/daily (30 days)": lambda r: ("/v1/reports/daily", days(r)),
        "GET /v1/compliance/campaigns": lambda r: ("/v1/compliance/campaigns", {}),
        "GET /v1/compliance/campaigns/{id}": lambda r: (
            f"/v1/compliance/campaigns/{r.choice(s.campaigns)}", {}),
        "GET /v1/subscription": lambda r: ("/v1/subscription", {}),
    }


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    server_cpu_s: float = 0.0
    db_cpu_s: float = 0.0


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server process and its children (uvicorn workers)."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        return float("nan")  # not Linux: no figure
    return backends_cpu_s(pids)


def api_backends(database_url: str) -> list[int]:
    """PIDs of the PostgreSQL backends serving the API's pools (its `application_name`)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'nmc-read-api' "
                "AND datname = current_database()")).scalars())
    finally:
        engine.dispose()


def backends_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (PostgreSQL backends, the server's; same
    machine: /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # not Linux, another machine, or a connection replaced meanwhile
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: str,
               token: str, tag: str | None = None) -> int:
    """One keep-alive HTTP/1.1 GET; returns the status (the body is read and dropped)."""
    condition = f"If-None-Match: {tag}\r\n" if tag else ""
    writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n"
                 f"Authorization: Bearer {token}\r\n{condition}\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in lines
                   if line.lower().startswith(b"content-length:")), 0)  # none on a 304
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def current_tags(port: int, token: str, s: Seeded) -> dict[str, dict[str, str]]:
    """For the 304 rows: target -> the `ETag` it answers now, per conditional endpoint."""
    targets = {
        "GET /v1/conversations?limit=50 (If-None-Match: 304)": [
            "/v1/conversations?limit=50"],
        "GET /v1/conversations/{id} (If-None-Match: 304)": [
            f"/v1/conversations/{cid}" for _, cid in s.conversations[:200]],
    }
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        return {name: {t: client.get(t).headers["etag"] for t in urls}
                for name, urls in targets.items()}


def conditional(tags: dict[str, str]) -> Endpoint:
    targets = sorted(tags)
    return lambda r: (r.choice(targets), {})


async def load(port: int, token: str, make: Endpoint, concurrency: int,
               seconds: float, tags: dict[str, str] | None = None) -> Result:
    """`concurrency` clients on their own keep-alive connections, back to back.

    A raw asyncio HTTP/1.1 client, not httpx: on this 2-core machine httpx's async client
    saturated at ~400 req/s on /healthz while the server could answer ~2800, so it would have
    measured itself. This one costs a few microseconds per request."""
    result = Result()

    def target(rnd: random.Random) -> str:
        path, params = make(rnd)
        return f"{path}?{urlencode(params)}" if params else path

    async def worker(n: int, stop: float) -> None:
        rnd = random.Random(n)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await _get(reader, writer, target(rnd), token)  # warm connection and pool
            await start.wait()
            while time.perf_counter() < stop:
                url = target(rnd)
                tag = None if tags is None else tags[url]
                began = time.perf_counter()
                status = await _get(reader, writer, url, token, tag)
                result.latencies.append(time.perf_counter() - began)
                if status != (200 if tags is None else 304):
                    result.errors += 1
        finally:
            writer.close()
            await writer.wait_closed()

    start = asyncio.Event()
    stop = time.perf_counter() + seconds + 1.0
    tasks = [asyncio.create_task(worker(n, stop)) for n in range(concurrency)]
    await asyncio.sleep(1.0)  # connections open and warmed
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    add_json_option(parser)
    args = parser.parse_args()

    settings = ready_settings(console)
    with scratch_database(settings, prefix="nmc_bench_api") as bench:
        began = time.perf_counter()
        seeded = seed(bench.database, args.conversations)
        console.print(f"seeded {args.conversations} conversations x 2 tenants, "
                      f"{4 * args.conversations} messages each, 14400 slots each "
                      f"in {time.perf_counter() - began:.1f} s")
        port = free_port()
        server = start_server(bench.database, port, args.workers)
        try:
            token = issue_token(ApiSettings(jwt_secret=SecretStr(SECRET)),
                                uuid.UUID(seeded.tenant), ttl_s=3600)
            rows = []
            tagged = current_tags(port, token, seeded)
            backends = api_backends(bench.database)
            probes: list[tuple[str, Endpoint, dict[str, str] | None]] = [
                *((name, make, None) for name, make in endpoints(seeded).items()),
                *((name, conditional(tags), tags) for name, tags in tagged.items())]
            for name, make, tags in probes:
                cpu_before = server_cpu_s(server.pid)
                db_before = backends_cpu_s(backends)
                res = asyncio.run(load(port, token, make,
                                       args.concurrency, args.seconds, tags))
                res.server_cpu_s = server_cpu_s(server.pid) - cpu_before
                res.db_cpu_s = backends_cpu_s(backends) - db_before
                rows.append((name, res))
                console.print(f"  {name}: {len(res.latencies) / res.elapsed:.0f} req/s")
        finally:
            server.terminate()
            server.wait(timeout=30)

    base = len(rows[0][1].latencies) / rows[0][1].elapsed
    table = Table("endpoint", "requests", "req/s", "p50 ms", "p99 ms", "unexpected",
                  "req/s ÷ healthz", "srv CPU µs/req", "db CPU µs/req",
                  title=f"read API, {args.workers} uvicorn worker(s), {args.concurrency} "
                        f"clients x {args.seconds:.0f} s per endpoint, {os.cpu_count()} cores")
    for name, res in rows:
        rps = len(res.latencies) / res.elapsed
        table.add_row(name, str(len(res.latencies)), f"{rps:.0f}",
                      f"{percentile(res.latencies, 50) * 1000:.1f}",
                      f"{percentile(res.latencies, 99) * 1000:.1f}", str(res.errors),
                      f"{rps / base:.2f}",
                      f"{res.server_cpu_s / max(1, len(res.latencies)) * 1e6:.0f}",
                      f"{res.db_cpu_s / max(1, len(res.latencies)) * 1e6:.0f}")
    console.print(table)
    console.print(f"command: .venv/bin/python -m bench.api --conversations {args.conversations} "
                  f"--concurrency {args.concurrency} --seconds {args.seconds:g} "
                  f"--workers {args.workers}  (started {date.today()})")
    write_json(args.json, "api", *table_data(table))


if __name__ == "__main__":
    main()
