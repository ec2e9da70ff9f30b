"""`nmc demo`: one event of every catalog type through outbox -> relay -> Kafka -> consumer."""

from __future__ import annotations

import json
import threading
import uuid

from rich.console import Console
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


def run_demo(settings: Settings, console: Console) -> int:
    try:
        ensure_up(settings, console)
    except StackError as exc:
        console.print(f"[red]stack: {exc}[/]")
        return 1
    prepare(settings, console)

    tenant_id, correlation_id = uuid.uuid4(), uuid.uuid4()
    events = [parse_event(e) for e in example_envelopes(tenant_id, correlation_id)]
    start = end_offsets(settings, domain_topics())

    engine = make_engine(settings.database)
    with Session(engine) as session, session.begin():
        OutboxWriter().append_all(session, events)
    engine.dispose()
    console.print(
        f"[green]✓[/] wrote {len(events)} events to outbox_events in one transaction "
        f"(tenant {tenant_id}, conversation {correlation_id})"
    )

    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(settings, stop), name="relay", daemon=True)
    relay.start()
    console.print("[green]✓[/] relay started; consuming what it publishes...")
    try:
        with console.status("waiting for the relay"):
            records = read_records(
                settings,
                start,
                until=lambda rs: len(rs) >= len(events),
                timeout_s=90,
                keep=lambda h: h.get("tenant_id") == str(tenant_id),
            )
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
        table.add_row(
            r.topic, f"{r.partition}{mark}", str(r.offset), r.headers["event_name"], payload
        )
    console.print(table)
    console.print(f"key of every record: [bold]{records[0].key}[/] (tenant:correlation)")
    return 0
