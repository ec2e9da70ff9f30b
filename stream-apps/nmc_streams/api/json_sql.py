"""SQL fragments that make PostgreSQL render a response body as the API's JSON.

Why: building a Python dict per row and encoding it costs the API process more CPU than the
query itself on a 50-row page (bench.api, docs/performance-read-api.md); PostgreSQL renders
the same bytes in C. The fragments reproduce exactly what pydantic-core's `to_json` gave the
old code for the same rows (a test compares the two byte for byte).

Objects are plain text concatenation, not `row_to_json`/`json_build_object`: those look up
and classify every column's type again for every row, which measured ~0.5 µs per value in
the backend, more than the Python they replace; concatenating text is a few times cheaper.
Per column type (from the table definition, so a renamed column fails the tests):

* uuid and integer: their text (quoted for uuid); no escaping can be needed;
* text: `to_json(text)`, PostgreSQL's JSON string escaping (the same bytes as pydantic's);
* timestamptz: as pydantic prints an aware UTC datetime, `2026-03-01T10:00:00Z`, with
  `.ffffff` only when there are microseconds (`to_json` would print `+00:00`, trim zeros);
* NULL: `null`. Arrays are `string_agg(..., ',')` in brackets, `[]` when empty.

The conversation and message objects are not rendered at read time any more: each row stores
its own (`item_json`, a generated column, migration rm0006, same rules through the IMMUTABLE
wrappers `nmc_json_ts`/`nmc_json_text`). A change to these rules, or a column added to those
tables, needs a migration that redefines `item_json` too (the byte-for-byte test fails until
then).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import DateTime, Integer, Table, Uuid

_SECONDS = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"
_MICROS = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"


def ts(expr: str) -> str:
    """`expr` (a timestamptz, maybe NULL) as pydantic's JSON text of the same instant."""
    return (f"to_char({expr} AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', {expr}) = "
            f"{expr} THEN {_SECONDS} ELSE {_MICROS} END)")


def value(expr: str, kind: object) -> str:
    """The JSON text of `expr`, a column of SQLAlchemy type `kind` (`null` when NULL)."""
    if isinstance(kind, Uuid):
        text = f"'\"' || {expr} || '\"'"
    elif isinstance(kind, Integer):
        text = f"{expr}::text"
    elif isinstance(kind, DateTime):
        text = f"'\"' || {ts(expr)} || '\"'"
    else:
        text = f"to_json({expr}::text)::text"
    return f"coalesce({text}, 'null')"


def fields(table: Table, alias: str, *hidden: str) -> list[tuple[str, str]]:
    """(key, JSON text expression) of every column of `table` but `hidden`, in table order."""
    return [(c.name, value(f"{alias}.{c.name}", c.type)) for c in table.c
            if c.name not in hidden]


def json_object(pairs: Iterable[tuple[str, str]]) -> str:
    """`{"key":value,...}` from (key, JSON text expression) pairs, keys in the given order
    (keys are identifiers of ours: nothing to escape)."""
    parts = [f"'{'{' if n == 0 else ','}\"{key}\":' || {expr}"
             for n, (key, expr) in enumerate(pairs)]
    return "(" + " || ".join(parts) + " || '}')"


def json_array(element: str, source: str, order: str) -> str:
    """A scalar sub-query: the JSON array of `element` (JSON text) over `source` (a FROM
    clause with its WHERE), in `order`; `[]` when there is no row."""
    return (f"(SELECT '[' || coalesce(string_agg({element}, ',' ORDER BY {order}), '') "
            f"|| ']' FROM {source})")
