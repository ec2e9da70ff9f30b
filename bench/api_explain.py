"""EXPLAIN (ANALYZE, BUFFERS) of the read API's conversation statements on the bench's data,
and PostgreSQL's CPU time per execution of each.

    .venv/bin/python -m bench.api_explain [--conversations 5000] [--executions 1000]

Seeds a fresh migrated database as `bench.api` does, then prints the plan of each statement
the inbox routes run (`nmc_streams.api.body_queries`, `freshness`), with the parameters of a
typical request: the first page, a cursor page filtered by status, a conversation with its
messages, and the freshness check of a conditional request (the 304 path: one primary-key
lookup). Each statement runs once before it is explained, so the figures are those of a warm
cache, as the API's are. Then each statement runs `--executions` times on one connection,
prepared with a generic plan as the API runs it, and the backend's user + system CPU
(`/proc/<pid>/stat` of `pg_backend_pid()`: PostgreSQL on this machine) per execution is
printed, best of 3 rounds.
"""

from __future__ import annotations

import argparse
import os
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from bench.api import seed
from bench.common import ready_settings, scratch_database
from nmc_streams.api import body_queries, freshness
from nmc_streams.api.cursor import ConversationKey
from nmc_streams.api.database import conninfo

console = Console(width=150)


def explain(conn: psycopg.Connection[Any], title: str, sql: str,
            params: dict[str, Any]) -> None:
    conn.execute(sql, params).fetchall()
    plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params).fetchall()
    console.rule(title)
    print("\n".join(row["QUERY PLAN"] for row in plan))


def backend_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_execution(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any],
                      executions: int) -> float:
    """Best of 3 rounds: backend CPU µs per execution of `sql` (prepared, generic plan)."""
    row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    assert row is not None
    best = float("inf")
    for _ in range(3):
        before = backend_cpu_s(row["pid"])
        for _ in range(executions):
            conn.execute(sql, params, prepare=True).fetchall()
        best = min(best, (backend_cpu_s(row["pid"]) - before) / executions * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--executions", type=int, default=1000)
    args = parser.parse_args()
    settings = ready_settings(console)
    with scratch_database(settings, prefix="nmc_bench_explain") as bench:
        seeded = seed(bench.database, args.conversations)
        tenant = uuid.UUID(seeded.tenant)
        at, cid = seeded.conversations[len(seeded.conversations) // 3]
        key = ConversationKey(at, uuid.UUID(cid))
        first: dict[str, Any] = {"t": tenant, "n": 50, "status": None}
        statements = {
            "GET /v1/conversations?limit=50": (body_queries._LIST[False, False], first),
            "GET /v1/conversations?status=open&limit=50&cursor=…": (
                body_queries._LIST[True, True],
                {**first, "status": "open", "at": key.last_activity_at,
                 "id": key.conversation_id}),
            "GET /v1/conversations/{id}": (body_queries._DETAIL,
                                           {"t": tenant, "c": uuid.UUID(cid)}),
            "If-None-Match: the freshness check (304)": (
                freshness.VERSIONS_SQL, {"s": freshness.CONVERSATIONS, "t": [tenant]}),
        }
        with psycopg.connect(conninfo(bench.database), autocommit=True, row_factory=dict_row,
                             options="-c plan_cache_mode=force_generic_plan") as conn:
            for title, (sql, params) in statements.items():
                explain(conn, title, sql, params)
            table = Table("statement", "backend CPU µs/execution",
                          title=f"best of 3 x {args.executions} executions, one connection")
            for title, (sql, params) in statements.items():
                table.add_row(title, f"{cpu_per_execution(conn, sql, params, args.executions):.0f}")
            console.print(table)


if __name__ == "__main__":
    main()
