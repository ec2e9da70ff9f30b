"""SQL fragments that make PostgreSQL render a response body as the API's JSON.

Why: building a Python dict per row and encoding it costs the API process more CPU than the
query itself on a 50-row page (bench.api, docs/performance-read-api.md); PostgreSQL renders
the same bytes in C. The fragments reproduce exactly what pydantic-core's `to_json` gave the
old code for the same rows (a test compares the two byte for byte):

* objects with `row_to_json` over a sub-select whose column names are the keys, in order
  (compact: no spaces, unlike `json_build_object`; key order kept, unlike `jsonb`);
* arrays with `string_agg(..., ',')` (compact, unlike `json_agg`), `[]` when empty;
* `timestamptz` as pydantic prints an aware UTC datetime: `2026-03-01T10:00:00Z`, with
  `.ffffff` only when there are microseconds (`to_json` would print `+00:00` and trim zeros);
* uuid, text and integer columns as `row_to_json` prints them (pydantic's form already).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import DateTime, Table

_SECONDS = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"
_MICROS = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"


def ts(expr: str) -> str:
    """`expr` (a timestamptz, maybe NULL) as pydantic's JSON text of the same instant."""
    return (f"to_char({expr} AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', {expr}) = "
            f"{expr} THEN {_SECONDS} ELSE {_MICROS} END)")


def fields(table: Table, alias: str, *hidden: str) -> list[tuple[str, str]]:
    """(key, expression) of every column of `table` but `hidden`, in table order, each
    rendered as the API prints it. From the table definition, so a renamed column fails the
    tests instead of drifting."""
    return [(c.name, ts(f"{alias}.{c.name}") if isinstance(c.type, DateTime)
             else f"{alias}.{c.name}") for c in table.c if c.name not in hidden]


def select_list(pairs: Iterable[tuple[str, str]]) -> str:
    """`expr AS "key", ...`: the sub-select `row_to_json` turns into `{"key":...}`."""
    return ", ".join(f'{expr} AS "{key}"' for key, expr in pairs)


def json_array(element: str, source: str, order: str) -> str:
    """A scalar sub-query: the JSON array of `element` (a json expression) over `source`
    (a FROM clause with its WHERE), in `order`; `[]` when there is no row."""
    return (f"(SELECT '[' || coalesce(string_agg(({element})::text, ',' ORDER BY {order}), '') "
            f"|| ']' FROM {source})")
