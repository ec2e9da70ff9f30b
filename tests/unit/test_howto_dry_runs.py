"""The how-tos "Adding an event type" (docs/producers/schemas.md) and "Adding a read model"
(docs/operating/workers.md), done on scratch copies: each edits only the files its how-to
names, and everything else picks the change up by itself (the schema-file checks, the generated
catalog, the stream test generator, the app's state, the upserts and the grants)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, Text
from support.streams import history
from test_schema_files import (
    catalog_events,
    check_catalog_json,
    check_example_round_trips,
    check_majors,
    check_schema_file,
)

from nmc.catalog_docs.build import render
from nmc.contract.facts import Fact
from nmc.contract.schemas import SCHEMA_DIR, load_catalog
from nmc.infra.db_roles import API_ROLE, STREAMS_ROLE, grant_statements
from nmc_streams.apps import APPS
from nmc_streams.batch import BatchProjector, Record
from nmc_streams.flows import Rows
from nmc_streams.memory import InMemoryStateStore
from nmc_streams.metrics import StreamMetrics
from nmc_streams.read_model import metadata, read_model, uuid_column
from nmc_streams.state import FLOW, Entity, items, view

NEW_EVENT = "nmc.telephony.CallbackRequested"
TENANTS = ["7d1e3c1a-5f7b-4a43-9c51-0b1e2d3c4f5a"]


def add_event_type(schemas: Path) -> list[Path]:
    """Steps 1-2 of the how-to on a copy of schemas-avro/: the .avsc file and its catalog.json
    entry (steps 3-4, the emitting domain module and the consuming app's state.py, are code)."""
    avsc = schemas / "telephony" / "CallbackRequested.v1.avsc"
    base = json.loads((schemas / "telephony" / "CallDetected.v1.avsc").read_text("utf-8"))
    base["name"] = "CallbackRequested"
    base["doc"] = "When: A caller asks to be called back; Producer: Telephony Ingestion"
    base["fields"][1]["doc"] = base["fields"][1]["doc"].replace("CallDetected",
                                                                "CallbackRequested")
    base["fields"][-1]["type"] = {
        "type": "record", "name": "CallbackRequestedPayload", "namespace": base["namespace"],
        "fields": [
            {"name": "call_id", "type": {"type": "string", "logicalType": "uuid"},
             "doc": "The call the caller wants returned."},
            {"name": "from_phone", "type": "string", "doc": "The caller (E.164).",
             "nmc.format": "e164"},
        ],
    }
    avsc.write_text(json.dumps(base, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    catalog_json = schemas / "catalog.json"
    meta = json.loads(catalog_json.read_text("utf-8"))
    meta[NEW_EVENT] = {
        "domain": "telephony", "when": "A caller asks to be called back.",
        "producer": "Telephony Ingestion", "consumers": ["Conversation"],
        "example_payload": {"call_id": "7f0d8e2c-9e65-4a1a-a7f4-6f3f8b9c0a11",
                            "from_phone": "+13105551212"},
    }
    catalog_json.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return [avsc, catalog_json]


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    copy = tmp_path / "schemas-avro"
    shutil.copytree(SCHEMA_DIR, copy)
    return copy


def _decoded(env: Any) -> dict[str, Any]:
    value: dict[str, Any] = env.to_json()
    value["occurred_at"] = env.occurred_at
    return value


async def _inline(call: Callable[..., Any], *args: Any) -> Any:
    return call(*args)


def project(app: str, model: Any, values: list[dict[str, Any]],
            store: InMemoryStateStore | None = None) -> tuple[list[str], InMemoryStateStore]:
    store = store or InMemoryStateStore()

    async def never(record: Record, fact: Fact | None, error: str, attempts: int) -> None:
        raise AssertionError(f"dead letter: {error}")

    projector = BatchProjector(app, model, store, lambda raw: raw, never, StreamMetrics(app),
                               run=_inline)
    records = [Record("nmc.x", 0, i, b"k", v, {}) for i, v in enumerate(values)]
    return asyncio.run(projector.handle(records)), store


def test_adding_an_event_type_touches_two_contract_files_and_the_rest_follows(
        schemas: Path) -> None:
    edited = add_event_type(schemas)
    assert [p.name for p in edited] == ["CallbackRequested.v1.avsc", "catalog.json"]
    # the schema-file checks read the event list from the copy's catalog.json: no list to edit
    files = sorted(schemas.glob("*/*.avsc"))
    assert NEW_EVENT in catalog_events(schemas)
    check_majors(files, catalog_events(schemas))
    check_schema_file(edited[0])
    check_catalog_json(schemas)
    check_example_round_trips(edited[0], json.loads(edited[1].read_text("utf-8")))
    # the browsable catalog is generated (`nmc catalog build`)
    assert "CallbackRequested" in render(schemas)["telephony/CallbackRequested.md"]
    # the stream tests' generator writes it from its catalog example, with fresh ids
    catalog = load_catalog(schemas)
    events = history(7, TENANTS, 4, catalog)
    new = [e for e in events if e.event_name == NEW_EVENT]
    assert len(new) == 4 and len({e.payload["call_id"] for e in new}) == 4
    assert all(e.event_name != NEW_EVENT for e in history(7, TENANTS, 4))  # the real catalog
    # an app that does not list it acknowledges and ignores it; listing it in its state's
    # EVENTS (step 4 of the how-to) is what makes the app keep it
    values = [_decoded(e) for e in events]
    outcomes, _ = project("conversation", APPS["conversation"].model, values)
    assert {o for o, e in zip(outcomes, events, strict=True) if e.event_name == NEW_EVENT} \
        == {"ignored"}
    model = APPS["conversation"].model
    events_with_it = model.events | {"CallbackRequested"}  # state.EVENTS names are short
    listening = type("Listening", (type(model),), {"events": events_with_it})()
    outcomes, store = project("conversation", listening, values)
    assert {o for o, e in zip(outcomes, events, strict=True) if e.event_name == NEW_EVENT} \
        == {"applied"}
    kept = [s for (_k, entity), (s, _v) in store.states.items() if entity == FLOW
            if any(f["n"] == "CallbackRequested" for f in s["f"].values())]
    assert len(kept) == 4


@pytest.fixture
def callbacks_table() -> Iterator[Any]:
    """Step 2 of "Adding a read model": the table, declared beside the app's others (here in a
    test, so it leaves the shared metadata as it found it)."""
    table = read_model(
        "rpt_callbacks",
        uuid_column("tenant_id", True),
        uuid_column("call_id", True),
        Column("from_phone", Text, nullable=False),
        Column("version", Integer, nullable=False),
        upsert="versioned",
    )
    try:
        yield table
    finally:
        metadata.remove(table)


def test_adding_a_read_model_needs_its_table_its_rows_and_nothing_else(
        callbacks_table: Any) -> None:
    reporting = APPS["reporting"]
    base = reporting.model

    class WithCallbacks(type(base)):  # type: ignore[misc]
        """Step 3: the rows, derived where the app derives its others."""

        def derive(self, key: str, entities: Any, touched: set[str]) -> Rows:
            rows = super().derive(key, entities, touched)
            flow: Entity = entities[FLOW]
            tenant = key.partition(":")[0]
            rows["rpt_callbacks"] = [
                {"tenant_id": tenant, "call_id": p["call_id"], "from_phone": p["from_phone"],
                 "version": flow.version}
                for _t, _e, _n, p in items(view(key, flow), "CallDetected")]
            return rows

    app = replace(reporting, model=WithCallbacks(), tables=(*reporting.tables, callbacks_table))
    assert "rpt_callbacks" in app.table_names  # what `nmc worker rebuild` rebuilds and swaps
    values = [_decoded(e) for e in history(3, TENANTS, 5)]
    calls = {v["payload"]["call_id"] for v in values if v["event_name"].endswith("CallDetected")}
    # the store upserts it by the rule the table declares, replays change nothing
    _, store = project("reporting", app.model, values)
    once = store.dump()
    project("reporting", app.model, values, store)
    assert store.dump() == once
    assert {r[0][1] for r in once["rpt_callbacks"]} == calls
    # the grants follow its app prefix (nmc.infra.db_roles): no list to edit
    stmts = grant_statements({API_ROLE, STREAMS_ROLE}, {"rpt_callbacks"})
    assert 'GRANT SELECT ON rpt_callbacks TO "nmc_api"' in stmts
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON rpt_callbacks TO "nmc_streams"' in stmts
