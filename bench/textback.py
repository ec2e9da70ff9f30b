"""Text-back path: missed-call webhook -> auto-reply handed to Twilio, through the real processes.

    .venv/bin/python -m bench.textback [--tenants 20] [--probe-rate 5] [--seconds 30]
                                       [--background-rates 0,1000] [--writers 2] [--json PATH]

On a scratch database it starts `nmc edge serve`, `nmc relay`, `nmc reactor` (its own consumer
group, committed at the current end of the domain topics) and `nmc sender run` as separate
processes, with the sender pointed at a loopback fake of Twilio's Messages API that time-stamps
every request (`tests/support/twilio_rest.py`). `--tenants` tenants have a live subscription and
an approved campaign. Each round sends probes — Twilio-signed `no-answer` voice status
callbacks, each from a new caller — at `--probe-rate`/s for `--seconds`, while `--writers`
processes commit other tenants' conversation traffic through `OutboxWriter` at the round's
background rate (half InboundSmsReceived, which the reactor records, half MessageSent, which it
filters out by header; 200 background tenants). A probe's latency is its webhook POST -> the
fake's arrival time of its text. Per stage, from the database's own timestamps: edge (POST ->
outbox row), relay (row -> published_at), reactor (published -> text queued), sender wait
(queued -> claimed) and Twilio call (claimed -> the fake's arrival).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from queue import Empty
from typing import Any

import httpx
from confluent_kafka import Consumer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bench.common import (
    bench_writer,
    paced_ticks,
    percentile,
    ready_settings,
    scratch_database,
)
from bench.reactor import add_tenants
from bench.results import add_json_option, table_data, write_json
from nmc.contract.envelope import new_event
from nmc.infra.consume import end_offsets
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import consumer_config
from nmc.infra.net import free_port
from nmc.infra.settings import Settings
from producers.conversation.reactions.consumer import SOURCE_TOPICS
from producers.tenants.store import add_tenant
from tests.support.streams import remove_group
from tests.support.twilio_rest import Script, ScriptedTwilio

console = Console()
PUBLIC_URL = "https://edge.bench.test"
TWILIO_TOKEN = "bench-twilio-auth-token"
ACCOUNT = "AC" + "0" * 32
BACKGROUND_TENANTS = 200
DEADLINE_S = 30.0
STAGES = ("edge", "relay", "reactor", "sender wait", "Twilio call")
COMMANDS = {"edge": ["edge", "serve"], "relay": ["relay"], "reactor": ["reactor"],
            "sender": ["sender", "run"]}
KILL_WAIT_S = 120.0  # a killed reactor's partitions return after the group's session timeout


def tenant_number(n: int) -> str:
    return f"+1415555{n:04d}"  # bench.reactor.add_tenants' numbers


def background_number(n: int) -> str:
    return f"+1212555{n:04d}"


# --- background load ------------------------------------------------------------------------

def background_writer(database: str, tenants: list[tuple[str, str]], rate: float,
                      seconds: float, seed: int, ready: Any, go: Any, out: Any) -> None:
    """One writer process: other tenants' conversation traffic at `rate` events/s from the
    wall-clock time `go` carries, one transaction per ~20 ms tick; puts the events committed."""
    engine = make_engine(database)
    writer = bench_writer()
    with engine.connect():
        pass  # connected before the start
    ready.put(seed)
    start_at = float(go.get())
    per_tick = 2 * max(1, round(rate / 100))  # pairs, ~50 ticks a second
    written, n = 0, 0
    for _ in paced_ticks(rate, seconds, per_tick, start_at):
        events = []
        for _ in range(per_tick // 2):
            n += 1
            tenant, number = tenants[(seed + n) % len(tenants)]
            conversation = uuid.uuid4()
            caller = f"+1646{(seed * 1_000_000 + n) % 10_000_000:07d}"
            events.append(new_event(
                "nmc.telephony.InboundSmsReceived", tenant_id=tenant,
                correlation_id=conversation, payload={
                    "message_id": str(uuid.uuid4()), "from_phone": caller,
                    "to_phone": number, "body": "are you open today?", "provider_ref": "SMbg"}))
            events.append(new_event(
                "nmc.conversation.MessageSent", tenant_id=tenant, correlation_id=conversation,
                payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                         "direction": "out", "status": "queued"}))
        with Session(engine) as session, session.begin():
            writer.append_all(session, events)
        written += len(events)
    engine.dispose()
    out.put(written)


# --- the processes --------------------------------------------------------------------------

@dataclass
class Platform:
    """The four processes of the path, their ports and logs."""

    settings: Settings
    twilio_url: str
    log_dir: Path
    group: str = field(default_factory=lambda: f"bench-textback-{uuid.uuid4().hex[:8]}")
    edge_port: int = field(default_factory=free_port)
    sender_metrics_port: int = field(default_factory=free_port)
    reactor_metrics_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.settings.database,
            "NMC_REACTIONS_GROUP": self.group,
            "NMC_EDGE_HOST": "127.0.0.1", "NMC_EDGE_PORT": str(self.edge_port),
            "NMC_EDGE_PUBLIC_BASE_URL": PUBLIC_URL,
            "NMC_EDGE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "NMC_EDGE_STRIPE_WEBHOOK_SECRET": "whsec_bench0123456789",
            "NMC_EDGE_JWT_SECRET": "bench-jwt-secret-0123456789abcdef",
            "NMC_EDGE_TWILIO_API_BASE": self.twilio_url,
            "NMC_EDGE_TWILIO_ACCOUNT_SID": ACCOUNT,
            "NMC_EDGE_SENDER_METRICS_PORT": str(self.sender_metrics_port),
            "NMC_REACTIONS_METRICS_PORT": str(self.reactor_metrics_port),
        }

    def start(self) -> None:
        # The reactor's new group starts at the current end of the domain topics.
        consumer = Consumer(consumer_config(self.settings, self.group))
        try:
            consumer.commit(offsets=end_offsets(self.settings, SOURCE_TOPICS),
                            asynchronous=False)
        finally:
            consumer.close()
        for name in COMMANDS:
            self._spawn(name)
        self._wait_http(f"http://127.0.0.1:{self.edge_port}/healthz", "edge")
        self._wait_ready("sender")
        self._wait_ready("reactor")

    def _spawn(self, name: str) -> None:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "nmc.cli", *COMMANDS[name]], env=self.env(), stdout=log,
                stderr=subprocess.STDOUT)

    def _wait_ready(self, name: str) -> None:
        port = {"sender": self.sender_metrics_port, "reactor": self.reactor_metrics_port}[name]
        self._wait_http(f"http://127.0.0.1:{port}/healthz", name)

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL the process (`kill -9`), then start a new one and wait for its probe."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        self._spawn(name)
        self._wait_ready(name)

    def _wait_http(self, url: str, name: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{name} did not answer {url}; see {self.log_dir}")

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"{name} exited ({proc.returncode}); its log ends:\n{tail}")

    def metrics(self) -> str:
        """The sender's metrics (Prometheus text); empty while it restarts."""
        url = f"http://127.0.0.1:{self.sender_metrics_port}/metrics"
        try:
            return httpx.get(url, timeout=5).text
        except httpx.TransportError:
            return ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        remove_group(self.settings, self.group)


@contextmanager
def running(settings: Settings, twilio_url: str, log_dir: Path) -> Iterator[Platform]:
    platform = Platform(settings, twilio_url, log_dir)
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()


# --- probes ---------------------------------------------------------------------------------

@dataclass
class Probe:
    sid: str
    caller: str
    posted_at: float  # wall clock, just before the POST
    status: int = 0


def probe_caller(round_no: int, n: int) -> str:
    return f"+1310{(round_no * 100_000 + n) % 10_000_000:07d}"


def send_probe(http: httpx.Client, n: int, tenants: int, round_no: int) -> Probe:
    """One Twilio-signed no-answer voice status callback from a new caller."""
    caller = probe_caller(round_no, n)
    params = {"CallSid": f"CA{uuid.uuid4().hex}", "CallStatus": "no-answer", "From": caller,
              "To": tenant_number(n % tenants)}
    path = "/twilio/voice/status"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, params)
    probe = Probe(params["CallSid"], caller, time.time())
    probe.status = http.post(path, data=params,
                             headers={"X-Twilio-Signature": signature}).status_code
    return probe


def send_probes(platform: Platform, rate: float, seconds: float, tenants: int,
                round_no: int, probes: list[Probe] | None = None) -> list[Probe]:
    """Probes at `rate`/s, appended to `probes` as they go (another thread may watch it)."""
    probes = [] if probes is None else probes
    with httpx.Client(base_url=f"http://127.0.0.1:{platform.edge_port}", timeout=10) as http:
        start = time.monotonic()
        for n in range(round(rate * seconds)):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            probes.append(send_probe(http, n, tenants, round_no))
    return probes


STAGE_SQL = text("""
    SELECT c.call_sid, o.created_at AS edge_at, o.published_at, m.created_at AS queued_at,
           m.claimed_at, m.status
      FROM calls c
      JOIN outbox_events o ON o.event_id = c.event_id
      LEFT JOIN outbound_messages m ON m.correlation_id = c.correlation_id
     WHERE c.call_sid = ANY(CAST(:sids AS text[]))
""")


def epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


# --- one round ------------------------------------------------------------------------------

def run_round(engine: Engine, platform: Platform, twilio: ScriptedTwilio, clock_offset: float,
              args: argparse.Namespace, rate: int, round_no: int,
              background: list[tuple[str, str]]) -> dict[str, Any]:
    """Probes under `rate` events/s of background; the figures of the round."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Queue(), ctx.Queue()
    writers = []
    for w in range(args.writers if rate else 0):
        proc = ctx.Process(target=background_writer, args=(
            platform.settings.database, background, rate / args.writers, args.seconds + 2.0,
            w, ready, go, out))
        proc.start()
        writers.append(proc)
    for _ in writers:
        ready.get(timeout=120)  # imported and connected: spawning is slow on a loaded machine
    start_at = time.time() + 0.5
    for _ in writers:
        go.put(start_at)
    time.sleep(max(0.0, start_at + 2.0 - time.time()))  # the load is on before the probes
    before = platform.metrics()
    probes = send_probes(platform, args.probe_rate, args.seconds, args.tenants, round_no)
    committed = 0
    for proc in writers:
        proc.join()
    for _ in writers:
        with suppress(Empty):
            committed += int(out.get(timeout=30))
    background_rate = committed / (args.seconds + 2.0)
    result = settle(engine, platform, twilio, clock_offset, probes, DEADLINE_S + 5.0)
    return {**result, "round": f"background {rate:,}/s", "rate": rate,
            "background": background_rate,
            "histogram": histogram_delta(before, platform.metrics())}


def settle(engine: Engine, platform: Platform, twilio: ScriptedTwilio, clock_offset: float,
           probes: list[Probe], wait_s: float) -> dict[str, Any]:
    """Wait for every probe's text (or its `unknown` row), at most `wait_s` after the last
    probe; the round's figures. Lost: neither texted nor reported `unknown` by then."""
    def done(probe: Probe, unknown: set[str]) -> bool:
        return bool(twilio.accepted(probe.caller)) or probe.sid in unknown

    deadline = probes[-1].posted_at + wait_s
    rows: dict[str, Any] = {}
    while True:
        with engine.connect() as conn:
            rows = {r.call_sid: r for r in conn.execute(
                STAGE_SQL, {"sids": [p.sid for p in probes]})}
        unknown = {sid for sid, r in rows.items() if r.status == "unknown"}
        if all(done(p, unknown) for p in probes) or time.time() >= deadline:
            break
        platform.check()
        time.sleep(0.2)
    latencies: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    late = duplicates = refused = lost = 0
    for probe in probes:
        if probe.status >= 300:
            refused += 1
        accepted = twilio.accepted(probe.caller)
        duplicates += max(0, len(accepted) - 1)
        if not accepted:
            late += 1
            lost += probe.sid not in unknown
            continue
        arrived = accepted[0].at + clock_offset
        latency = arrived - probe.posted_at
        latencies.append(latency * 1000)
        if latency > DEADLINE_S:
            late += 1
        row = rows.get(probe.sid)
        if row is None:
            continue
        points = [probe.posted_at, epoch(row.edge_at), epoch(row.published_at),
                  epoch(row.queued_at), epoch(row.claimed_at), arrived]
        for stage, (a, b) in zip(STAGES, pairwise(points), strict=True):
            if a is not None and b is not None:
                stages[stage].append((b - a) * 1000)
    at_twilio = sum(1 for p in probes if p.sid in unknown and twilio.accepted(p.caller))
    return {
        "probes": len(probes), "texted": len(probes) - late, "late": late, "lost": lost,
        "duplicates": duplicates, "unknown": len(unknown), "unknown_at_twilio": at_twilio,
        "refused": refused, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
        "stages": {s: (percentile(v, 50), percentile(v, 99)) for s, v in stages.items()},
    }


# --- kill rounds ----------------------------------------------------------------------------

HELD = 5  # texts the fake Twilio holds in flight when the sender is killed
HOLD_S = 5.0  # how long it holds each (longer than the bench needs to see them all arrive)
UNANSWERED = 3  # missed calls on Kafka the stopped reactor has not answered when it is killed


def run_kill_round(engine: Engine, platform: Platform, twilio: ScriptedTwilio,
                   clock_offset: float, args: argparse.Namespace, target: str,
                   round_no: int) -> dict[str, Any]:
    """Probes without background load; a third of the way in, `target` is killed -9 at a
    moment the bench has observed, then restarted:

    * sender: the fake Twilio holds the next `HELD` probes' requests unanswered; once all of
      them have arrived (texts in flight), SIGKILL. Twilio got them, so they count as texted;
      the restarted sender must report them `unknown` and never send them again.
    * reactor: SIGSTOP, then wait until `UNANSWERED` later missed calls are published to Kafka
      with no text queued (facts in flight, possibly a batch mid-transaction), then SIGKILL.
    """
    total = round(args.probe_rate * args.seconds)
    first = total // 3
    held = [probe_caller(round_no, n) for n in range(first, first + HELD)]
    if target == "sender":
        for caller in held:
            twilio.scripts[caller] = Script(delay_s=HOLD_S)
    probes: list[Probe] = []
    sending = threading.Thread(target=send_probes, args=(
        platform, args.probe_rate, args.seconds, args.tenants, round_no, probes), daemon=True)
    sending.start()
    observed = ""
    try:
        if target == "sender":
            _wait(lambda: all(twilio.requests_to(c) for c in held), "held texts at Twilio")
            observed = f"{len(held)} texts in flight at Twilio"
        else:
            _wait(lambda: len(probes) >= first, "a third of the probes")
            platform.procs["reactor"].send_signal(signal.SIGSTOP)
            mark = len(probes)
            _wait(lambda: _unanswered(engine, probes[mark:]) >= UNANSWERED,
                  "missed calls on Kafka behind the stopped reactor")
            observed = (f"{_unanswered(engine, probes[:len(probes)])} missed calls on "
                        "Kafka unanswered")
    finally:
        platform.kill_and_restart(target)
    sending.join()
    result = settle(engine, platform, twilio, clock_offset, probes, KILL_WAIT_S)
    return {**result, "round": f"{target} kill -9 ({observed})", "rate": 0,
            "background": 0.0, "histogram": "", "status_unknown": status_unknown(platform)}


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"kill round: no {what} after {timeout_s:.0f} s")
        time.sleep(0.02)


UNANSWERED_SQL = text("""
    SELECT count(*) FROM calls c JOIN outbox_events o ON o.event_id = c.event_id
     WHERE c.call_sid = ANY(CAST(:sids AS text[])) AND o.published_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM outbound_messages m
                        WHERE m.correlation_id = c.correlation_id)
""")


def _unanswered(engine: Engine, probes: list[Probe]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(UNANSWERED_SQL, {"sids": [p.sid for p in probes]}).scalar_one())


def status_unknown(platform: Platform) -> str:
    """What `nmc status --json` says about texts in state unknown (count; flagged or not)."""
    done = subprocess.run(
        [sys.executable, "-m", "nmc.cli", "status", "--json", "--expect-group",
         platform.group], env=platform.env(), capture_output=True, text=True, timeout=120)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return f"(nmc status failed: {done.stderr.strip()[-200:]})"
    flagged = any("unknown" in p for p in report.get("problems", []))
    return f"{report['texts']['unknown']}" + (" (flagged)" if flagged else " (not flagged)")


def histogram_delta(before: str, after: str) -> str:
    """The sender's `nmc_textback_latency_seconds` buckets over the round (Prometheus text)."""
    def buckets(exposition: str) -> dict[str, float]:
        found = {}
        for line in exposition.splitlines():
            if line.startswith("nmc_textback_latency_seconds_bucket{"):
                le = line.split('le="', 1)[1].split('"', 1)[0]
                found[le] = float(line.rsplit(" ", 1)[1])
        return found

    old, new = buckets(before), buckets(after)
    parts = [f"≤{le}s: {new[le] - old.get(le, 0):.0f}" for le in new if le != "+Inf"]
    return ", ".join(parts)


# --- main -----------------------------------------------------------------------------------

def setup_tenants(engine: Engine, tenants: int) -> list[tuple[str, str]]:
    """`tenants` probe tenants (live subscription, approved campaign) and the background
    tenants (in the directory, nothing to text); the background's (tenant id, number)."""
    add_tenants(engine, [uuid.uuid4() for _ in range(tenants)])
    background = []
    with Session(engine) as session, session.begin():
        for n in range(BACKGROUND_TENANTS):
            tenant = add_tenant(session, name=f"Background {n}", numbers=[background_number(n)],
                                time_zone="UTC")
            background.append((str(tenant.tenant_id), background_number(n)))
    return background


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--probe-rate", type=float, default=5.0, help="missed calls a second")
    parser.add_argument("--seconds", type=float, default=30.0, help="probing time per round")
    parser.add_argument("--background-rates", default="0,1000",
                        help="events/s of other tenants' traffic, one round each")
    parser.add_argument("--writers", type=int, default=2, help="background writer processes")
    parser.add_argument("--kill", default="sender,reactor",
                        help="processes killed -9 (and restarted), one round each, after the "
                        "load rounds ('' for none)")
    add_json_option(parser)
    args = parser.parse_args()
    rates = [int(r) for r in args.background_rates.split(",")]
    base = ready_settings(Console(stderr=True))
    results = []
    with ExitStack() as stack:
        settings = stack.enter_context(scratch_database(base, prefix="nmc_bench_textback"))
        engine = make_engine(settings.database)
        background = setup_tenants(engine, args.tenants)
        twilio = stack.enter_context(ScriptedTwilio(ACCOUNT))
        clock_offset = time.time() - time.monotonic()
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="textback-")))
        platform = stack.enter_context(running(settings, twilio.url, log_dir))
        console.print(f"processes up (logs in {log_dir}); warm-up probe ...")
        with httpx.Client(base_url=f"http://127.0.0.1:{platform.edge_port}") as http:
            warm = send_probe(http, 9_999, args.tenants, 99)
        deadline = time.monotonic() + 120
        while not twilio.accepted(warm.caller):
            platform.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"the warm-up probe was never texted; see {log_dir}")
            time.sleep(0.1)
        for round_no, rate in enumerate(rates):
            console.print(f"round {round_no + 1}: background {rate:,} events/s ...")
            results.append(run_round(engine, platform, twilio, clock_offset, args, rate,
                                     round_no, background))
        for target in [t for t in args.kill.split(",") if t]:
            round_no = len(results)
            console.print(f"round {round_no + 1}: {target} killed -9 ...")
            results.append(run_kill_round(engine, platform, twilio, clock_offset, args, target,
                                          round_no))
        engine.dispose()
    show(results, args)


def show(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    load = os.getloadavg()
    table = Table(title=f"Text-back path ({os.cpu_count()} cores, load {load[0]:.1f}; "
                        f"probes {args.probe_rate:g}/s for {args.seconds:g} s, "
                        f"{args.tenants} tenants)")
    for column in ("round", "background ev/s (target / committed)", "probes",
                   f"texted ≤ {DEADLINE_S:.0f} s", f"not texted after {DEADLINE_S:.0f} s",
                   "lost", "texted twice", "unknown (at Twilio) / `nmc status`",
                   "p50 ms", "p99 ms", *(f"{s} p50 / p99 ms" for s in STAGES)):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r["round"], f"{r['rate']:,} / {r['background']:,.0f}", str(r["probes"]),
            str(r["texted"]), str(r["late"]), str(r["lost"]), str(r["duplicates"]),
            f"{r['unknown']} ({r['unknown_at_twilio']}) / {r.get('status_unknown', '-')}",
            f"{r['p50']:,.0f}", f"{r['p99']:,.0f}",
            *(f"{p50:,.0f} / {p99:,.0f}" for p50, p99 in r["stages"].values()))
    console.print(table)
    for r in results:
        if not r["histogram"]:
            continue
        console.print(f"background {r['rate']:,}/s: sender's nmc_textback_latency_seconds over "
                      f"the round: {r['histogram']}" + (
                          f"; {r['refused']} webhooks refused" if r["refused"] else ""))
    write_json(args.json, "textback", *table_data(table), notes=(
        "Probe = a Twilio-signed no-answer voice status callback to `nmc edge serve`; latency "
        "= POST -> the fake Twilio's arrival time of the auto-reply (`nmc relay`, `nmc "
        "reactor`, `nmc sender run` as separate processes). Stages from database timestamps: "
        "edge = POST -> outbox row inserted, relay = -> published_at, reactor = -> text "
        "queued, sender wait = -> claimed, Twilio call = -> arrival at the fake. Background: "
        f"{args.writers} writer processes, {BACKGROUND_TENANTS} other tenants, half "
        "InboundSmsReceived (recorded by the reactor), half MessageSent (filtered by header). "
        "Kill rounds (no background): a third of the way in, the sender is killed -9 once the "
        f"fake Twilio holds {HELD} of its requests unanswered (texts in flight), or the reactor "
        f"is stopped (SIGSTOP) until {UNANSWERED} later missed calls are on Kafka unanswered "
        "and then killed -9; each is restarted at once. They wait up to "
        f"{KILL_WAIT_S:.0f} s after the last probe (a killed reactor's partitions return after "
        "the consumer group's session timeout). Lost = neither texted nor reported unknown; "
        "unknown = texts the restarted sender reports `unknown` (never resent; in brackets "
        "those the fake had received), next to what `nmc status --json` reports."))


if __name__ == "__main__":
    main()
