"""`nmc demo`: the platform on the local stack, watched by a newcomer.

Default: the product story — a missed call becomes a text back, a conversation and a booking —
played through the real signed webhooks while every process runs, then the conversation, the
appointment and today's report as the read API returns them. `--catalog`: one event of every
catalog type through outbox -> relay -> Kafka, printed as a plain consumer decodes it.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from sqlalchemy.orm import Session

from nmc.bootstrap import prepare
from nmc.consume import end_offsets, read_records
from nmc.contract.examples import example_envelopes
from nmc.contract.keys import java_partition
from nmc.contract.payload import to_json_value
from nmc.kafka import domain_topics
from nmc.settings import Settings
from nmc.stack import StackError, ensure_up
from producers.db import make_engine
from producers.envelope import parse_event
from producers.outbox import OutboxWriter
from producers.relay.app import run_relay


def _stack(settings: Settings, console: Console) -> bool:
    try:
        ensure_up(settings, console)
    except StackError as exc:
        console.print(f"[red]stack: {exc}[/]")
        return False
    prepare(settings, console)
    return True


def run_story(settings: Settings, console: Console) -> int:
    from nmc.local_platform import LocalPlatform
    from nmc.scenario import ProviderSimulator, new_tenant, play, wait_for_story

    if not _stack(settings, console):
        return 1
    log_dir = settings.nmc_home / "logs" / "demo"
    with console.status("starting the platform's processes") as status:
        platform = LocalPlatform(settings, log_dir).start(
            lambda m: console.print(f"[green]✓[/] {m}"))
    try:
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
        return 0
    except (TimeoutError, RuntimeError) as exc:
        console.print(f"[red]demo failed: {exc}[/]\nworker logs: {log_dir}")
        return 1
    finally:
        with console.status("stopping the platform's processes"):
            platform.stop()


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


def run_catalog(settings: Settings, console: Console) -> int:
    if not _stack(settings, console):
        return 1
    tenant_id, correlation_id = uuid.uuid4(), uuid.uuid4()
    events = [parse_event(e) for e in example_envelopes(tenant_id, correlation_id)]
    start = end_offsets(settings, domain_topics())
    engine = make_engine(settings.database)
    with Session(engine) as session, session.begin():
        OutboxWriter().append_all(session, events)
    engine.dispose()
    console.print(f"[green]✓[/] wrote {len(events)} events to outbox_events in one transaction "
                  f"(tenant {tenant_id}, conversation {correlation_id})")
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(settings, stop), name="relay", daemon=True)
    relay.start()
    try:
        with console.status("relay publishing, consumer decoding"):
            records = read_records(
                settings, start, until=lambda rs: len(rs) >= len(events), timeout_s=90,
                keep=lambda h: h.get("tenant_id") == str(tenant_id))
    finally:
        stop.set()
        relay.join(timeout=30)
    table = Table(title="Decoded from Kafka (Avro via the Schema Registry)")
    for column in ("topic", "p", "offset", "event", "payload"):
        table.add_column(column, overflow="fold")
    for r in records:
        expected = java_partition(r.key, settings.nmc_topic_partitions)
        mark = "" if expected == r.partition else f" [red](java says {expected})[/]"
        payload = json.dumps(to_json_value(r.value["payload"]), separators=(",", ":"))
        table.add_row(r.topic, f"{r.partition}{mark}", str(r.offset),
                      r.headers["event_name"], payload)
    console.print(table)
    console.print(f"key of every record: [bold]{records[0].key}[/] (tenant:correlation)")
    return 0
