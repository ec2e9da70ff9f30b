"""`nmc demo`: the platform on the local stack, watched by a newcomer.

Default: the product story — a missed call becomes a text back, a conversation and a booking —
played through the real signed webhooks while every process runs, then the conversation, the
appointment and today's report as the read API returns them. `--catalog`: one event of every
catalog type through outbox -> relay -> Kafka, printed as a plain consumer decodes it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from sqlalchemy.orm import Session

from nmc.bootstrap import prepare
from nmc.contract.envelope import parse_event
from nmc.contract.examples import example_envelopes
from nmc.contract.keys import java_partition
from nmc.contract.payload import to_json_value
from nmc.infra.consume import DecodedRecord, end_offsets, read_records
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import domain_topics
from nmc.stack import StackError, ensure_up, prometheus
from nmc.stack.settings import StackSettings
from nmc.stack.shape import client_settings
from producers.outbox import OutboxWriter
from producers.outbox.settings import OutboxSettings
from producers.relay.app import run_relay
from producers.relay.settings import RelaySettings


def _stack(settings: StackSettings, console: Console) -> bool:
    try:
        ensure_up(settings, console)
    except StackError as exc:
        console.print(f"[red]stack: {exc}[/]")
        return False
    prepare(settings, console)
    return True


def run_story(settings: StackSettings, console: Console) -> int:
    from nmc.demo.local_platform import LocalPlatform
    from nmc.demo.scenario import ProviderSimulator, new_tenant, play, wait_for_story

    log_dir = settings.nmc_home / "logs" / "demo"
    log_to_file(log_dir)
    if not _stack(settings, console):
        return 1
    platform = LocalPlatform(settings, log_dir)
    try:
        with console.status("starting the platform's processes"):
            platform.start(lambda m: console.print(f"[green]✓[/] {m}"))
        story = new_tenant(platform)
        console.print(f"[green]✓[/] tenant 'Ace Plumbing', business number "
                      f"{story.business_number}")
        console.rule("the story, through signed Twilio and Stripe webhooks")
        with httpx.Client(timeout=30) as client, console.status("playing") as status:
            sim = ProviderSimulator(platform, client)
            play(sim, story, lambda m: console.print(f"  [cyan]→[/] {m}"))
            status.update("waiting for the stream apps to build the read models")
            state = wait_for_story(
                platform, story,
                lambda what: status.update(f"waiting for {what} (read API {platform.api_url})"))
        _print_story(console, state)
        console.print(f"logs: {log_dir}  ·  workers alive: {platform.workers_alive()}")
        _hold_for_scrapes(settings, console)
        return 0
    except (TimeoutError, RuntimeError) as exc:
        console.print(f"[red]demo failed: {exc}[/]\nworker logs: {log_dir}")
        return 1
    finally:
        with console.status("stopping the platform's processes"):
            platform.stop()
        with console.status("removing this run's topics, consumer groups and table state"):
            removed = platform.remove_traces()
        console.print(f"[green]✓[/] {removed.summary()}" if not removed.failed
                      else f"[yellow]![/] {removed.summary()}")


def _hold_for_scrapes(settings: StackSettings, console: Console) -> None:
    """With the stack's Prometheus up (`nmc stack up --observability`), keep the processes up
    for two more scrapes before their targets go: a dashboard panel's `rate()` needs two
    samples of the run, and the story itself takes only a few scrape intervals."""
    if not prometheus.ready(settings):
        return
    hold_s = 2 * settings.nmc_prometheus_scrape_interval_s + 1
    with console.status(f"keeping the processes up {hold_s:.0f} s for Prometheus' scrapes "
                        f"({prometheus.url(settings)})"):
        time.sleep(hold_s)


def log_to_file(log_dir: Path) -> Path:
    """Every log line of this process — ours, the libraries', librdkafka's (routed through
    `logging` by nmc.infra.kafka_clients) — goes to `<log_dir>/demo.log`, never into the story."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "demo.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


def _print_story(console: Console, state: dict[str, Any]) -> None:
    conv = state["conversation"]
    table = Table(title=f"GET /v1/conversations/{conv['conversation_id']}")
    for column in ("when (UTC)", "direction", "status", "body"):
        table.add_column(column, overflow="fold")
    for m in conv["messages"]:
        table.add_row(str(m["first_seen_at"])[:19], m["direction"] or "", m["status"] or "",
                      m.get("body") or "")
    console.print(Panel.fit(
        f"caller {conv['caller_phone']} · status {conv['status']} · started "
        f"{str(conv['started_at'])[:19]} · {conv['message_count']} messages · auto-reply "
        f"{(conv.get('auto_reply') or {}).get('decision', 'undecided')}", title="conversation"))
    console.print(table)
    for a in state["appointments"]:
        console.print(Panel.fit(
            f"{a['status']} · {str(a['start_at'])[:16]} → {str(a['end_at'])[11:16]} UTC · "
            f"customer {a['customer_phone']}", title=f"appointment {a['appointment_id']}"))
    report = state["report"]
    keys = ("missed_calls", "conversations_started", "messages_out", "messages_in",
            "delivered", "holds", "bookings", "conversion_rate")
    console.print(Panel.fit("  ".join(f"{k}={report.get(k)}" for k in keys),
                            title=f"GET /v1/reports/daily ({report['day']})"))


def run_catalog(settings: StackSettings, console: Console) -> int:
    log_to_file(settings.nmc_home / "logs" / "demo")
    if not _stack(settings, console):
        return 1
    tenant_id, correlation_id = uuid.uuid4(), uuid.uuid4()
    events = [parse_event(e) for e in example_envelopes(tenant_id, correlation_id)]
    # on a secured stack the relay publishes and the operator's tools read, each as itself
    relay_settings, reader = (client_settings(settings, p)[0] for p in ("relay", "operator"))
    start = end_offsets(reader, domain_topics())
    engine = make_engine(settings.database)
    with Session(engine) as session, session.begin():
        OutboxWriter.from_settings(OutboxSettings(), settings).append_all(session, events)
    engine.dispose()
    console.print(f"[green]✓[/] wrote {len(events)} events to outbox_events in one transaction")
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(relay_settings, RelaySettings(), stop),
                             name="relay", daemon=True)
    relay.start()
    try:
        with console.status("relay publishing, consumer decoding"):
            records = read_records(
                reader, start, until=lambda rs: len(rs) >= len(events), timeout_s=90,
                keep=lambda h: h.get("tenant_id") == str(tenant_id))
    finally:
        stop.set()
        relay.join(timeout=30)
    console.print(catalog_table(records, settings.nmc_topic_partitions))
    console.print("key of every record (tenant:correlation):")
    console.print(f"  [bold]{records[0].key}[/]", overflow="fold")
    return 0


def catalog_table(records: list[DecodedRecord], partitions: int) -> Table:
    """Each record as a plain consumer sees it, narrow enough for an 80-column terminal:
    topic, partition and offset (the partition checked against the Java formula) beside the
    event name and one payload field per line."""
    table = Table(title="Decoded from Kafka (Avro via the Schema Registry)",
                  box=box.SIMPLE_HEAD, show_lines=True, pad_edge=False)
    table.add_column("record", no_wrap=True)
    table.add_column("event and payload", overflow="fold")
    for r in records:
        expected = java_partition(r.key, partitions)
        check = "[green]= java[/]" if expected == r.partition else f"[red]java: {expected}[/]"
        where = f"{r.topic}\np{r.partition} @{r.offset}\n{check}"
        short = r.headers["event_name"].rsplit(".", 1)[-1]
        fields = [f"[dim]{k}[/] {_field_text(v)}"
                  for k, v in to_json_value(r.value["payload"]).items()]
        table.add_row(where, "\n".join([f"[bold]{short}[/]", *fields]))
    return table


def _field_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
