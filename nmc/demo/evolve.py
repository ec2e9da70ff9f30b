"""`nmc demo --evolve`: a minor and a major schema change lived through on the local stack.

Issue #22 items 1-3 as one story, on scratch copies so nothing real is touched: the schema files
are copies in a temporary directory (`nmc.demo.scratch_schemas`), the topic is an isolated copy
`nmc.telephony.evolve<run>` whose registry subjects are its own, the outbox is a scratch
database, the consumer group is `nmc-demo-evolve-<run>-…`. Everything is removed at the end,
also on failure or Ctrl-C (`nmc.demo.cleanup.remove_suffixed`).

1. minor: CallDetected 1.0.0 -> 1.1.0 (an optional `caller_name`) passes the gate as a minor
   and is registered; writers of both versions interleave on the same keys; a relay with the
   *old* files publishes each row with its own version's schema id; a 1.0.0 reader decodes all.
2. major: a `CallDetected.v2.avsc` registered beside v1; with the window open one writer call
   stages both majors (one event_id, key and partition); closed, only v2 is written.
3. retirement: `nmc schemas retire --dry-run` refuses while a v1 consumer group lags and names
   it; once the group has read everything it passes, and the real retire soft-deletes v1.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from fastavro import parse_schema, schemaless_reader
from pydantic import SecretStr
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from nmc.contract.envelope import Envelope, InvalidEvent, new_event
from nmc.contract.schemas import SCHEMA_DIR, SchemaCatalog, load_catalog, subject_for
from nmc.contract.wire import frame_schema_id
from nmc.demo.cleanup import Removed, remove_suffixed
from nmc.demo.scratch_schemas import EVENT, FILE, MAJOR_FILE, major_copy, minor_copy
from nmc.infra.connection import url_with_userinfo
from nmc.infra.consume import DecodedRecord, end_offsets, read_records
from nmc.infra.db import make_engine, upgrade
from nmc.infra.kafka_clients import consumer_config, ensure_topics
from nmc.infra.net import free_port
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings
from nmc.schema_gate.check import Report, Result, check_file
from nmc.schema_gate.register import register_checked
from nmc.schema_gate.registry_api import Registry
from nmc.stack import StackError, ensure_up
from nmc.stack.settings import StackSettings
from producers.outbox import OutboxWriter
from producers.outbox.values import StoredValues, registry_lookup
from producers.relay.app import build_relay, run_relay
from producers.relay.settings import RelaySettings

WINDOW = {EVENT: [1, 2]}
_FAILURES = (TimeoutError, RuntimeError, InvalidEvent, KafkaException, SQLAlchemyError,
             subprocess.TimeoutExpired)


class StepFailed(RuntimeError):
    """A step of the story did not show what it should (the message says what was seen)."""


@dataclass(frozen=True)
class Scratch:
    """The names one run owns: a topic copy (and its subjects), a database, a group prefix."""

    run: str

    @classmethod
    def new(cls) -> Scratch:
        return cls(uuid.uuid4().hex[:8])

    @property
    def suffix(self) -> str:
        return f".evolve{self.run}"

    @property
    def topic(self) -> str:
        return f"nmc.telephony{self.suffix}"

    @property
    def database(self) -> str:
        return f"nmc_evolve_{self.run}"

    @property
    def group_prefix(self) -> str:
        return f"nmc-demo-evolve-{self.run}"

    def subject(self, major: int) -> str:
        return subject_for(self.topic, f"nmc.telephony.v{major}.CallDetected")


def run_evolve(settings: StackSettings, console: Console) -> int:
    """Play the three steps, printing each; 0 when every step showed what it should."""
    from nmc.demo.run import log_to_file

    log_dir = settings.nmc_home / "logs" / "demo"
    log_to_file(log_dir)
    try:
        ensure_up(settings, console)
    except StackError as exc:
        console.print(f"[red]stack: {exc}[/]")
        return 1
    scratch = Scratch.new()
    database_url = make_url(settings.database).set(database=scratch.database).render_as_string(
        hide_password=False)
    code = 1
    try:
        with tempfile.TemporaryDirectory(prefix="nmc-evolve-") as tmp:
            with console.status("creating a scratch database and topic"):
                _create_database(settings.database, scratch.database, database_url)
                ensure_topics(settings, [scratch.topic])
            console.print(f"[green]✓[/] scratch copies: topic [bold]{scratch.topic}[/] (its own "
                          f"subjects), database {scratch.database}, schema files in {tmp}; "
                          "the real catalog and subjects are not touched")
            local = ServiceSettings(**{**settings.service_fields(),
                                       "database_url": SecretStr(database_url)})
            relay = RelaySettings(nmc_relay_poll_interval_s=0.2,
                                  nmc_relay_metrics_port=free_port())
            story = Evolution(local, relay, scratch, Path(tmp), console)
            story.minor()
            story.major()
            story.retirement()
        console.print("[green]✓[/] schema evolution shown: a minor, a major side by side, "
                      "a safe retirement")
        code = 0
    except _FAILURES as exc:
        console.print(f"[red]demo failed: {escape(str(exc))}[/]\nlog: {log_dir / 'demo.log'}")
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        code = 130
    finally:
        with console.status("removing this run's topic, subjects, groups and database"):
            removed = remove_suffixed(settings, scratch.suffix, scratch.group_prefix,
                                      database_url)
        _print_removed(console, removed)
    return code


def _print_removed(console: Console, removed: Removed) -> None:
    mark = "[yellow]![/]" if removed.failed else "[green]✓[/]"
    console.print(f"{mark} {escape(removed.summary())}")


def _create_database(server_url: str, name: str, url: str) -> None:
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    upgrade(url)


class Evolution:
    """The three steps on one run's scratch copies (`settings` points at its database)."""

    def __init__(self, settings: ServiceSettings, relay: RelaySettings, scratch: Scratch,
                 tmp: Path, console: Console) -> None:
        self.settings, self.scratch, self.tmp, self.console = settings, scratch, tmp, console
        self.relay_settings = relay
        self.registry_url = url_with_userinfo(settings.registry, settings.connection)
        self.tenant = uuid.uuid4()
        self.keys = [uuid.uuid4(), uuid.uuid4()]

    def say(self, message: str) -> None:
        self.console.print(f"  [cyan]→[/] {message}")

    def ok(self, message: str) -> None:
        self.console.print(f"[green]✓[/] {message}")

    # --- 1. a minor change -------------------------------------------------------------------
    def minor(self) -> None:
        self.console.rule("1. a minor change: CallDetected 1.0.0 → 1.1.0 (optional caller_name)")
        v10 = load_catalog(SCHEMA_DIR)
        v11 = minor_copy(self.tmp / "v1.1.0")
        self.gate(SCHEMA_DIR, "1.0.0")
        self.gate(self.tmp / "v1.1.0", "1.1.0", why=True)
        ids = {v: self.schema_id(self.scratch.subject(1), c) for v, c in
               (("1.0.0", v10), ("1.1.0", v11))}
        writers = {"1.0.0": self.writer(v10, {}), "1.1.0": self.writer(v11, {})}
        written: dict[str, str] = {}
        engine = make_engine(self.settings.database)
        try:
            for n in range(2):  # both versions on both keys, interleaved, one commit each
                for version in ("1.0.0", "1.1.0"):
                    catalog = v10 if version == "1.0.0" else v11
                    for key in self.keys:
                        name = f"Caller {n + 1}" if version == "1.1.0" else None
                        event = self.call(catalog, key, caller_name=name)
                        with Session(engine) as session, session.begin():
                            writers[version].append(session, event)
                        written[str(event.event_id)] = version
            self.say(f"two writers (files at 1.0.0 and at 1.1.0) wrote {len(written)} "
                     f"CallDetected rows, interleaved on {len(self.keys)} keys")
            with self.relay(v10):
                self.wait_published(engine)
        finally:
            engine.dispose()
        self.say("a relay that has only the 1.0.0 files published them")
        records = self.read({(e, v) for e, v in written.items()})
        texts = self.writer_schemas({frame_schema_id(r.raw_value) for r in records})
        reader = (v10.get(EVENT, 1) or _missing(EVENT)).raw
        table = Table(title=f"{self.scratch.topic}: each record as written, and as a 1.0.0 "
                            "reader decodes it", box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("row", "record", "schema id", "writer's payload", "1.0.0 reader"):
            table.add_column(column, overflow="fold")
        wrong = []
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            version = written[r.headers["event_id"]]
            schema_id = frame_schema_id(r.raw_value)
            if schema_id != ids[version]:
                wrong.append(r.headers["event_id"])
            old = _decode(r.raw_value, texts[schema_id or 0], reader)["payload"]
            caller = r.value["payload"].get("caller_name", "—")
            check = "[green]✓[/]" if schema_id == ids[version] else f"[red]≠ {ids[version]}[/]"
            seen = "absent" if "caller_name" not in old else "[red]present[/]"
            table.add_row(version, f"p{r.partition} @{r.offset}", f"{schema_id} {check}",
                          f"caller_name={caller}", f"{len(old)} fields, caller_name {seen}")
        self.console.print(table)
        if wrong:
            raise StepFailed(f"records with another version's schema id: {wrong}")
        self.ok(f"every record carries its row's version's schema id (1.0.0 → id "
                f"{ids['1.0.0']}, 1.1.0 → id {ids['1.1.0']}); no value was re-encoded")
        self.ok(f"the 1.0.0 reader decoded all {len(records)} records; caller_name reached "
                "Kafka for every 1.1.0 row")

    # --- 2. a major change -------------------------------------------------------------------
    def major(self) -> None:
        self.console.rule("2. a major change: CallDetected.v2 (from_phone renamed caller_phone)"
                          " side by side")
        v2 = major_copy(self.tmp / "v2")
        self.gate(self.tmp / "v2", "2.0.0", MAJOR_FILE, why=True)
        self.say("a new record name, so a new subject on the same topic: v1 readers are not "
                 "affected by it")
        writer = self.writer(v2, WINDOW)
        engine = make_engine(self.settings.database)
        facts: dict[str, str] = {}
        try:
            for key in self.keys:
                event = self.call(v2, key, caller_name="Ada", major=2)
                with Session(engine) as session, session.begin():
                    writer.append(session, event)
                facts[str(event.event_id)] = event.key
            self.say(f"window open (NMC_DUAL_PUBLISH='{json.dumps(WINDOW)}'): "
                     f"{len(facts)} writer calls at v2")
            with self.relay(v2):
                self.wait_published(engine)
                records = self.read({(e, v) for e in facts for v in ("1.0.0", "2.0.0")})
                table = Table(title="one fact, both majors", box=box.SIMPLE_HEAD,
                              pad_edge=False)
                for column in ("event_id", "record", "version", "payload"):
                    table.add_column(column, overflow="fold")
                bad = []
                for event_id in facts:
                    mine = sorted((r for r in records if r.headers["event_id"] == event_id),
                                  key=lambda r: r.offset)
                    versions = [r.headers["schema_version"] for r in mine]
                    same = {(r.key, r.partition) for r in mine} == {(facts[event_id],
                                                                      mine[0].partition)}
                    if versions != ["1.0.0", "2.0.0"] or not same:
                        bad.append(f"{event_id}: {versions}")
                    for r in mine:
                        p = r.value["payload"]
                        phone = ("from_phone=" + str(p.get("from_phone"))
                                 if "from_phone" in p else "caller_phone="
                                 + str(p.get("caller_phone")))
                        table.add_row(event_id[:8], f"p{r.partition} @{r.offset}",
                                      r.headers["schema_version"], phone)
                self.console.print(table)
                if bad:
                    raise StepFailed(f"facts not published once per major, v1 then v2: {bad}")
                self.ok(f"{len(facts)} facts, each published at v1 then v2: one event_id, one "
                        "key, one partition (consumers pick their major by subject)")

                closed = self.writer(v2, {})
                event = self.call(v2, self.keys[0], caller_name="Grace", major=2)
                with Session(engine) as session, session.begin():
                    closed.append(session, event)
                self.wait_published(engine)
                after = self.read({(str(event.event_id), "2.0.0")})
        finally:
            engine.dispose()
        seen = [r.headers["schema_version"] for r in after]
        if seen != ["2.0.0"]:
            raise StepFailed(f"with the window closed the fact went out as {seen}")
        self.ok("window closed (NMC_DUAL_PUBLISH unset): the next fact is written at v2 only")

    # --- 3. retirement -----------------------------------------------------------------------
    def retirement(self) -> None:
        self.console.rule("3. retiring v1: only once every group has read past it")
        group = f"{self.scratch.group_prefix}-v1-reader"
        ends = end_offsets(self.settings, [self.scratch.topic])
        self.commit(group, [TopicPartition(self.scratch.topic, tp.partition, 0)
                            for tp in ends])
        self.say(f"consumer group {group} reads {self.scratch.topic} and has read nothing yet")
        refused = self.retire("--dry-run")
        if refused.returncode != 1 or group not in refused.stdout:
            raise StepFailed(f"retire --dry-run did not refuse naming {group} "
                             f"(exit {refused.returncode}): {refused.stdout}{refused.stderr}")
        self.ok(f"refused while {group} lags, and named it")

        read = self.catch_up(group, ends)
        self.say(f"{group} read the {read} records and committed")
        dry = self.retire("--dry-run")
        if dry.returncode != 0 or "OK (dry run)" not in dry.stdout:
            raise StepFailed(f"retire --dry-run still refuses (exit {dry.returncode}): "
                             f"{dry.stdout}{dry.stderr}")
        done = self.retire()
        if done.returncode != 0 or "RETIRED" not in done.stdout:
            raise StepFailed(f"retire failed (exit {done.returncode}): "
                             f"{done.stdout}{done.stderr}")
        v2 = load_catalog(self.tmp / "v2")
        engine = make_engine(self.settings.database)
        try:  # a writer that still has the window open asks the registry afresh
            with Session(engine) as session, session.begin():
                self.writer(v2, WINDOW).append(session, self.call(v2, self.keys[0], major=2))
            raise StepFailed("a writer could still write v1 after the retirement")
        except InvalidEvent as exc:
            self.say(f"a writer still dual-publishing is refused: {escape(str(exc))}")
        finally:
            engine.dispose()
        again = self.catch_up(f"{self.scratch.group_prefix}-late-reader", ends)
        self.ok(f"v1 retired once nobody needed it; a new group still decodes all {again} "
                "records (schema ids keep resolving)")

    # --- building blocks ---------------------------------------------------------------------
    def gate(self, schema_dir: Path, version: str, file: Path = FILE,
             why: bool = False) -> Result:
        """`nmc schemas register` for one file, on this run's topic copy (`why`: print the
        gate's reasons)."""
        level = self.settings.nmc_compatibility_level
        with Registry(self.registry_url) as registry:
            result, schema = check_file(schema_dir / file, f"{file} {version}", registry, None,
                                        "", level=level, topic_suffix=self.scratch.suffix)
        if not result.passed or schema is None:
            raise StepFailed(f"the gate refused {file} {version}: {'; '.join(result.reasons)}")
        done = register_checked(Report([result], None, self.registry_url,
                                       {result.subject: schema}), self.registry_url, level)
        self.ok(f"gate PASS, registered {file.stem} {version} under {result.subject}: "
                + ", ".join(d.describe() for d in done))
        for reason in result.reasons if why else []:
            self.say(f"gate: {escape(reason)}")
        return result

    def schema_id(self, subject: str, catalog: SchemaCatalog) -> int:
        raw = (catalog.get(EVENT, 1) or _missing(EVENT)).raw
        with Registry(self.registry_url) as registry:
            version = registry.lookup(subject, raw)
            if version is None:
                raise StepFailed(f"{subject}: schema not registered")
            return registry.get_version(subject, version).schema_id

    def writer(self, catalog: SchemaCatalog, window: dict[str, list[int]]) -> OutboxWriter:
        """A producer of `catalog`'s files, writing to this run's topic copy."""
        settings = self.settings
        values = StoredValues(registry_lookup(lambda: registry_client(settings)),
                              catalog=catalog)
        values.preload(self.scratch.suffix)
        values.wait()
        return OutboxWriter(values=values, topic_suffix=self.scratch.suffix,
                            dual_publish=window, retired={}, catalog=catalog)

    def call(self, catalog: SchemaCatalog, key: uuid.UUID, caller_name: str | None = None,
             major: int = 1) -> Envelope:
        payload: dict[str, Any] = {
            "call_id": str(uuid.uuid4()), "to_phone": "+13105550000", "reason": "no-answer",
            "provider_ref": "CA" + uuid.uuid4().hex[:8],
            ("caller_phone" if major == 2 else "from_phone"): "+14155551212"}
        if caller_name is not None:
            payload["caller_name"] = caller_name
        return new_event(EVENT, tenant_id=self.tenant, correlation_id=key, payload=payload,
                         catalog=catalog)

    @contextmanager
    def relay(self, catalog: SchemaCatalog) -> Iterator[None]:
        """A relay with `catalog`'s files on the scratch outbox, stopped on exit."""
        relay = build_relay(self.settings, self.relay_settings, catalog=catalog)
        stop = threading.Event()
        thread = threading.Thread(target=run_relay,
                                  args=(self.settings, self.relay_settings, stop, relay),
                                  name="evolve-relay", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)

    def wait_published(self, engine: Engine, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            with engine.connect() as conn:
                waiting = conn.execute(text(
                    "SELECT state, last_error FROM outbox_events WHERE state <> 'published'"
                )).all()
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(waiting)} outbox rows not published after "
                                   f"{timeout_s:.0f}s: {waiting[:3]}")
            time.sleep(0.2)

    def read(self, wanted: set[tuple[str, str]]) -> list[DecodedRecord]:
        """The records of (event_id, schema_version) pairs, read from the start of the copy."""
        start = end_offsets(self.settings, [self.scratch.topic])
        for tp in start:
            tp.offset = 0  # the copy holds this run's records only
        ids = {e for e, _ in wanted}
        return read_records(
            self.settings, start, timeout_s=90,
            until=lambda rs: {(r.headers["event_id"], r.headers["schema_version"])
                              for r in rs} >= wanted,
            keep=lambda h: h.get("event_id") in ids)

    def writer_schemas(self, ids: set[int | None]) -> dict[int, str]:
        client = registry_client(self.settings)
        return {i: str(client.get_schema(i).schema_str) for i in ids if i is not None}

    def commit(self, group: str, offsets: list[TopicPartition]) -> None:
        consumer = Consumer(consumer_config(self.settings, group))
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        finally:
            consumer.close()

    def catch_up(self, group: str, ends: list[TopicPartition]) -> int:
        """The group reads every record of the copy (as its consumers would), then commits."""
        total = sum(tp.offset for tp in ends)
        start = [TopicPartition(tp.topic, tp.partition, 0) for tp in ends]
        records = read_records(self.settings, start, until=lambda rs: len(rs) >= total,
                               timeout_s=90)
        self.commit(group, ends)
        return len(records)

    def retire(self, *extra: str) -> subprocess.CompletedProcess[str]:
        """`nmc schemas retire` as an operator runs it, on this run's copy; output printed."""
        args = ["schemas", "retire", EVENT, "--major", "1", "--topic-suffix",
                self.scratch.suffix, *extra]
        self.console.print(f"  [bold]$ nmc {' '.join(args)}[/]")
        env = dict(os.environ, DATABASE_URL=self.settings.database,
                   KAFKA_BOOTSTRAP_SERVERS=self.settings.kafka,
                   SCHEMA_REGISTRY_URL=self.settings.registry)
        done = subprocess.run([sys.executable, "-m", "nmc.cli", *args], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        for line in (done.stdout + done.stderr).splitlines():
            self.console.print(f"    [dim]{escape(line)}[/]")
        return done


def _decode(value: bytes, writer_text: str, reader: Mapping[str, Any]) -> dict[str, Any]:
    """A Confluent-framed value as a consumer pinned to `reader` decodes it."""
    stream = io.BytesIO(value)
    stream.seek(5)
    record = schemaless_reader(stream, parse_schema(json.loads(writer_text), named_schemas={}),
                               parse_schema(dict(reader), named_schemas={}))
    if not isinstance(record, dict):
        raise StepFailed("a value is not an Avro record")
    return record


def _missing(what: str) -> Any:
    raise StepFailed(f"no schema file for {what}")


__all__ = ["Evolution", "Scratch", "StepFailed", "run_evolve"]
