"""The read side of PostgreSQL as the routes see it: an asyncio pool of read-only psycopg
connections.

Why it looks like this (bench.api, README "Benchmarks"):
* async driver, no worker thread: a query is a socket round trip awaited on the event loop,
  not a thread-pool hop per request;
* every connection opened at start-up and never pinged before use (`check` unset): a
  pre-ping is one more round trip per request. A connection found broken by a query (say,
  PostgreSQL restarted) is discarded by the pool and the read retried on another one, so a
  restart costs no request an error;
* AUTOCOMMIT: every query is one statement at READ COMMITTED, so an explicit transaction
  would only add BEGIN/ROLLBACK round trips;
* server-side prepared statements (`prepare_threshold=0`) with `plan_cache_mode =
  force_generic_plan`: each query is parsed and planned once per connection. Without it
  PostgreSQL re-plans a prepared statement at each execution while its custom plans look
  cheaper than the generic one, which for the conversation list's CTEs cost ~300-400 µs of
  backend CPU per request (measured; more than executing it). Every statement here is
  "tenant = $1 and a key range" on an index that leads with tenant_id, so the generic plan
  is the plan;
* `uuid` columns load as `str`: the API only prints them, a `UUID` object per value would be
  built only to be turned back into the same text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeAlias, TypeVar

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import make_url

from nmc_streams.api.settings import ApiSettings

P = ParamSpec("P")
T = TypeVar("T")
Conn: TypeAlias = psycopg.AsyncConnection[DictRow]
Rows: TypeAlias = list[dict[str, Any]]


def conninfo(database_url: str) -> str:
    """libpq URL of a SQLAlchemy one (`postgresql+psycopg://` -> `postgresql://`)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


async def _configure(conn: Conn) -> None:
    conn.adapters.register_loader("uuid", TextLoader)


class Database:
    """A lazily opened pool: `open()` at start-up (the lifespan), or at the first query when
    the app runs without a lifespan (httpx's ASGI transport in tests)."""

    def __init__(self, database_url: str, settings: ApiSettings) -> None:
        options = "-c default_transaction_read_only=on"  # defence in depth for a read API
        if settings.db_prepared_statements:
            options += " -c plan_cache_mode=force_generic_plan"
        if settings.db_statement_timeout_ms:
            # one slow query must not hold a pooled connection forever
            options += f" -c statement_timeout={settings.db_statement_timeout_ms}"
        self._conninfo = conninfo(database_url)
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "row_factory": dict_row,
            "prepare_threshold": 0 if settings.db_prepared_statements else None,
            "connect_timeout": settings.db_connect_timeout_s,
            "options": options,
            "application_name": "nmc-read-api",
        }
        self._size = settings.db_pool_size
        self._timeout = settings.db_pool_timeout_s
        self._pool: AsyncConnectionPool[Conn] | None = None

    async def open(self) -> AsyncConnectionPool[Conn]:
        """Start the pool (connections are made in the background: a database that is down
        at start-up does not stop the API from starting; /readyz says so)."""
        if self._pool is None:
            self._pool = AsyncConnectionPool(
                self._conninfo, kwargs=self._kwargs, min_size=self._size,
                max_size=self._size, timeout=self._timeout, open=False,
                configure=_configure, name="nmc-read-api",
            )
            await self._pool.open(wait=False)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[Conn]:
        """A pooled connection for the block (returned to the pool afterwards)."""
        pool = self._pool or await self.open()
        async with pool.connection(timeout=timeout) as conn:
            yield conn

    async def run(self, fn: Callable[Concatenate[Conn, P], Awaitable[T]],
                  *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(conn, ...)` on a pooled connection; again on another one while the one it got
        turns out dead (reads are idempotent). Each dead connection is discarded when it is
        returned, so after a PostgreSQL restart this ends within pool-size attempts, each
        failing at once, and the request still gets its answer."""
        for _ in range(self._size):
            async with self.connection() as conn:
                try:
                    return await fn(conn, *args, **kwargs)
                except psycopg.OperationalError:
                    if not conn.broken:
                        raise
        async with self.connection() as conn:  # the pool has had to open a fresh one
            return await fn(conn, *args, **kwargs)

    async def ping(self, timeout: float) -> None:
        """Readiness: a connection within `timeout` that answers `SELECT 1`."""
        async with asyncio.timeout(timeout), self.connection(timeout) as conn:
            await conn.execute("SELECT 1")
