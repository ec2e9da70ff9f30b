"""PostgreSQL side of the stream apps: the idempotent upserts of their read models and states.

The tables are declared by each app (`nmc_streams.<app>.app`) in `read_model.metadata`, each
with its upsert rule (`read_model.UpsertRule`); importing this module imports them all.

Every write is an upsert of rows derived from a whole flow state, so writing twice is
harmless. Rows owned by one flow carry `version` (distinct events that built the state) and an
upsert only replaces a row with an equal or newer version, so a stale worker that lost its
partition in a rebalance cannot overwrite a newer projection. Cross-flow rows (compliance per
campaign, subscription per tenant) are last-writer-wins on (event time, event_id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from nmc.infra.db import make_engine
from nmc_streams import apps  # noqa: F401  (every app's tables join `metadata` on import)
from nmc_streams.read_model import UpsertRule, metadata, upsert_rule

__all__ = ["collapse", "load_states", "metadata", "primary_key", "upsert", "worker_engine",
           "write_batch"]


def worker_engine(url: str) -> Engine:
    """The workers' engine (`nmc.infra.db.make_engine`): two connections, a 5 s connect
    timeout, and jsonb values (entity states) parsed with orjson — the same values as
    `json.loads`, a few times faster, and a batch loads thousands of them."""
    return make_engine(url, connect_timeout_s=5, pool_size=2, json_deserializer=orjson.loads)


_PK: dict[str, tuple[str, ...]] = {}
_STATEMENTS: dict[tuple[str, tuple[str, ...]], Any] = {}


def primary_key(table_name: str) -> tuple[str, ...]:
    """The primary-key columns of a table of `metadata` (KeyError: no such table), looked up
    once per table."""
    pk = _PK.get(table_name)
    if pk is None:
        pk = _PK[table_name] = tuple(
            c.name for c in metadata.tables[table_name].primary_key.columns)
    return pk


def _statement(table_name: str, columns: tuple[str, ...]) -> Any:
    """The multi-row upsert for one table and column set, built once. The rows travel as one
    JSON array that PostgreSQL unpacks into the table's own column types
    (`jsonb_populate_recordset`), one statement and one round trip per table and batch."""
    key = (table_name, columns)
    stmt = _STATEMENTS.get(key)
    if stmt is not None:
        return stmt
    table = metadata.tables[table_name]
    pk = primary_key(table_name)
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = (
        f"INSERT INTO {table_name} AS t ({cols}) SELECT {cols} "
        f"FROM jsonb_populate_recordset(NULL::{table_name}, CAST(:rows AS jsonb)) "
        f"ON CONFLICT ({', '.join(pk)}) "
    )
    rule = upsert_rule(table)
    if rule == "insert_only":
        sql += "DO NOTHING"
    else:
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in pk)
        sql += f"DO UPDATE SET {sets}"
        if rule == "versioned":
            sql += " WHERE t.version <= excluded.version"
        else:
            sql += " WHERE (t.changed_at, t.event_id) < (excluded.changed_at, excluded.event_id)"
    assert set(columns) <= set(table.columns.keys()), columns
    stmt = text(sql)
    _STATEMENTS[key] = stmt
    return stmt


def _wins(rule: UpsertRule, new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Would upserting `new` after `old` (same key) replace it? Mirrors the ON CONFLICT guards,
    so collapsing a batch's rows per key ends where upserting them one by one would."""
    if rule == "versioned":
        return bool(new["version"] >= old["version"])
    if rule == "last_writer_wins":
        return bool((new["changed_at"], new["event_id"]) > (old["changed_at"], old["event_id"]))
    return False  # insert-only: do nothing on conflict


def collapse(table_name: str, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One row per primary key (a multi-row upsert may not touch a row twice), the one a
    sequential application would leave, sorted by key so that concurrent writers lock rows in
    the same order (no deadlocks between workers sharing cross-flow rows)."""
    pk = primary_key(table_name)
    rule = upsert_rule(metadata.tables[table_name])
    by_key: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        k = tuple(row[c] for c in pk)
        old = by_key.get(k)
        if old is None or _wins(rule, row, old):
            by_key[k] = row
    return [by_key[k] for k in sorted(by_key, key=lambda k: tuple(str(x) for x in k))]


def upsert(conn: Connection, table_name: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Idempotent write of derived rows (see the module docstring for the guards)."""
    if not rows:
        return
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in collapse(table_name, rows):
        groups.setdefault(tuple(row), []).append(row)
    for columns, group in groups.items():
        conn.execute(_statement(table_name, columns), {"rows": _json(group)})


def _json(value: Any) -> str:
    """Compact JSON text of a batch parameter (orjson: same JSON as `json.dumps`, faster)."""
    return orjson.dumps(value).decode()


def load_states(
    engine: Engine, app: str, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored entity states of `app` for (key, entity) pairs; missing pairs are absent."""
    pairs = sorted(set(wanted))
    if not pairs:
        return {}
    with engine.connect() as conn:
        result = conn.execute(
            _STATE_LOAD, {"app": app, "wanted": _json([{"k": k, "e": e} for k, e in pairs])}
        )
        return {(row[0], row[1]): row[2] for row in result}


# The batch travels as one JSON document: PostgreSQL unpacks it, which costs far less than
# binding thousands of parameters (or escaping text[] elements) on the Python side.
_STATE_LOAD = text(
    "SELECT s.key, s.entity, s.state FROM stream_state s "
    "JOIN jsonb_to_recordset(CAST(:wanted AS jsonb)) AS w(k text, e text) "
    "ON s.key = w.k AND s.entity = w.e WHERE s.app = :app"
)
_STATE_UPSERT = text(
    "INSERT INTO stream_state (app, key, entity, state, version, updated_at) "
    "SELECT :app, u.k, u.e, u.s, u.v, now() "
    "FROM jsonb_to_recordset(CAST(:states AS jsonb)) AS u(k text, e text, s jsonb, v int) "
    "ON CONFLICT (app, key, entity) DO UPDATE SET state = excluded.state, "
    "version = excluded.version, updated_at = excluded.updated_at "
    "WHERE stream_state.version <= excluded.version"
)


def write_batch(
    engine: Engine,
    app: str,
    states: Mapping[tuple[str, str], tuple[Mapping[str, Any], int]],
    rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]],
) -> None:
    """Entity states and their read-model rows in one transaction: a crash leaves both or
    neither, so a read model is never built from a state that was not kept."""
    with engine.begin() as conn:
        if states:
            payload = [
                {"k": k, "e": e, "s": state, "v": version}
                for (k, e), (state, version) in sorted(states.items())
            ]
            conn.execute(_STATE_UPSERT, {"app": app, "states": _json(payload)})
        for name in sorted(rows_by_table):
            upsert(conn, name, rows_by_table[name])
