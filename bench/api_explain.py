"""EXPLAIN (ANALYZE, BUFFERS) of the read API's conversation statements on the bench's data.

    .venv/bin/python -m bench.api_explain [--conversations 5000]

Seeds a fresh migrated database as `bench.api` does, then prints the plan of each statement
the inbox routes run (`nmc_streams.api.body_queries`), with the parameters of a typical
request: the first page, a cursor page filtered by status, a conversation with its messages,
and the first page again with its own tag in `If-None-Match` (the 304 path: the body's
sub-plan must show "never executed"). Each statement runs once before it is explained, so
the figures are those of a warm cache, as the API's are.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from rich.console import Console

from bench.api import seed
from bench.common import ready_settings, scratch_database
from nmc_streams.api import body_queries
from nmc_streams.api.cursor import ConversationKey
from nmc_streams.api.database import conninfo

console = Console(width=150)


def explain(conn: psycopg.Connection[Any], title: str, sql: str,
            params: dict[str, Any]) -> None:
    conn.execute(sql, params).fetchall()
    plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params).fetchall()
    console.rule(title)
    print("\n".join(row["QUERY PLAN"] for row in plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5000)
    args = parser.parse_args()
    settings = ready_settings(console)
    with scratch_database(settings, prefix="nmc_bench_explain") as bench:
        seeded = seed(bench.database, args.conversations)
        tenant = uuid.UUID(seeded.tenant)
        at, cid = seeded.conversations[len(seeded.conversations) // 3]
        with psycopg.connect(conninfo(bench.database), autocommit=True,
                             row_factory=dict_row) as conn:
            first: dict[str, Any] = {"t": tenant, "n": 50, "status": None, "inm": None}
            explain(conn, "GET /v1/conversations?limit=50",
                    body_queries._LIST[False, False], first)
            key = ConversationKey(at, uuid.UUID(cid))
            explain(conn, "GET /v1/conversations?status=open&limit=50&cursor=…",
                    body_queries._LIST[True, True],
                    {**first, "status": "open", "at": key.last_activity_at,
                     "id": key.conversation_id})
            explain(conn, "GET /v1/conversations/{id}", body_queries._DETAIL,
                    {"t": tenant, "c": uuid.UUID(cid), "inm": None})
            tag = conn.execute(body_queries._LIST[False, False], first).fetchone()
            assert tag is not None
            explain(conn, "GET /v1/conversations?limit=50 with If-None-Match: its own tag",
                    body_queries._LIST[False, False], {**first, "inm": [tag["etag"]]})


if __name__ == "__main__":
    main()
