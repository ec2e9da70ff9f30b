"""Issue #22 item 1 on the real stack: a minor change while traffic flows.

Two writer processes — one with the real files (CallDetected 1.0.0), one with a scratch copy at
1.1.0 (an optional `caller_name`) — write at the same time on the same keys, on isolated copies
of the domain topics. Every record the relay publishes carries the schema id of its row's
version, and plain consumers pinned to either reader schema decode every record.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from fastavro import parse_schema, schemaless_reader
from sqlalchemy import Engine, text
from support.evolution import EVENT, minor_copy
from support.settings import PlatformSettings as Settings
from support.streams import IsolatedTopics
from test_relay_versions import _read, _register, _subject

from nmc.contract.schemas import SCHEMA_DIR, default_catalog
from nmc.contract.wire import frame_schema_id
from nmc.infra.schema_registry import registry_client
from producers.relay.relay import OutboxRelay

WRITER = Path(__file__).resolve().parents[1] / "support" / "evolution_writer.py"


def _decode(value: bytes, writer_text: str, reader: dict[str, object]) -> dict[str, object]:
    stream = io.BytesIO(value)
    stream.seek(5)
    record = schemaless_reader(stream, parse_schema(json.loads(writer_text), named_schemas={}),
                               parse_schema(reader, named_schemas={}))
    assert isinstance(record, dict)
    return record


def test_two_writer_versions_interleave_and_both_readers_decode_everything(
    test_settings: Settings, engine: Engine, copies: IsolatedTopics, tmp_path: Path,
    relays: Callable[..., OutboxRelay], wait_until: Callable[..., None],
) -> None:
    v11 = minor_copy(tmp_path / "v11")
    subject = _subject(copies)
    ids = {"1.1.0": _register(test_settings, subject, v11),
           "1.0.0": _register(test_settings, subject, default_catalog())}
    tenant, keys = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(4)]
    env = dict(os.environ, DATABASE_URL=test_settings.database,
               SCHEMA_REGISTRY_URL=test_settings.registry,
               KAFKA_BOOTSTRAP_SERVERS=test_settings.kafka,
               PYTHONPATH=os.pathsep.join([str(WRITER.parents[1]), os.environ.get(
                   "PYTHONPATH", "")]))
    writers = [subprocess.Popen([sys.executable, str(WRITER), "--lockstep", str(d),
                                 copies.suffix, tenant, "15", *keys], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for d in (SCHEMA_DIR, tmp_path / "v11")]
    relays(default_catalog())  # a relay of the old files publishes while both write
    for w in writers:
        assert w.stdout is not None and w.stdout.readline().strip() == "ready"
    for i in range(15):  # the two processes take turns: 1.0.0 and 1.1.0 rows alternate per key
        for w in writers:
            assert w.stdin is not None and w.stdout is not None
            w.stdin.write("go\n")
            w.stdin.flush()
            assert w.stdout.readline().strip() == f"round {i}"
    for w in writers:  # its last line: how many it wrote
        assert w.stdin is not None and w.stdout is not None
        count = w.stdout.readline().strip()
        w.stdin.close()
        assert w.wait(timeout=60) == 0 and count == str(15 * len(keys))
        w.stdout.close()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id::text, schema_version, record_key "
                                 "FROM outbox_events ORDER BY id")).all()
    assert {v for _, v, _ in rows} == {"1.0.0", "1.1.0"}
    # interleaved: per key, the versions alternate at least once in commit order
    per_key: dict[str, list[str]] = {}
    for _, v, k in rows:
        per_key.setdefault(k, []).append(v)
    assert any(sum(a != b for a, b in pairwise(vs)) > 1
               for vs in per_key.values()), "the two writers never interleaved"
    wait_until(lambda: _published(engine) == len(rows), "the relay to publish every row")

    records = _read(test_settings, copies, {e for e, _, _ in rows})
    version = {e: v for e, v, _ in rows}
    with registry_client(test_settings) as client:
        texts = {i: client.get_schema(i).schema_str for i in ids.values()}
    readers = {"1.0.0": dict((default_catalog().get(EVENT, 1) or _no()).raw),
               "1.1.0": dict((v11.get(EVENT, 1) or _no()).raw)}
    for record in records:
        row_version = version[record.headers["event_id"]]
        schema_id = frame_schema_id(record.raw_value)
        assert schema_id == ids[row_version]
        old = _decode(record.raw_value, texts[schema_id], readers["1.0.0"])
        new = _decode(record.raw_value, texts[schema_id], readers["1.1.0"])
        assert "caller_name" not in old["payload"]  # type: ignore[operator]
        name = new["payload"]["caller_name"]  # type: ignore[index]
        assert (name is None) == (row_version == "1.0.0")


def _published(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM outbox_events WHERE state = 'published'")).scalar_one())


def _no() -> object:
    raise AssertionError("schema missing")
