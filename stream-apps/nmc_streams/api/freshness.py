"""The freshness check behind conditional GETs: a tenant's read version (rm0005).

`read_versions` holds, per tenant and scope, the id of the last transaction that changed a
row of the scope's tables; triggers keep it in the writing transaction, whoever writes. An
`ETag` is a hash of (tenant, body format, that version, the resource the URL names), so:

* equal tag => same tenant, same resource, no commit to the scope's rows since => same body;
* `If-None-Match` costs one primary-key lookup (`read_version`), not the body's query. Its
  statement's snapshot is taken after the request arrived, so every commit before the request
  is seen: a changed row never answers 304;
* another tenant's tag never matches (the tenant is hashed in);
* a tenant without a version row has never had a row in the scope (triggers create the row
  in the transaction that writes its first one), so its tag (version `None`) stays valid
  exactly until it gets one.

The body queries read the same version in the statement that renders the body (one snapshot),
so a tag given with a body is that body's.

`VersionLookups` lets concurrent checks share one query (one pool checkout, one round trip
for all the tenants asking) without weakening the first point: a request only joins a lookup
that has not been sent yet, so the statement's snapshot is still taken after it arrived.
"""

from __future__ import annotations

import asyncio
from hashlib import blake2b
from typing import Final
from uuid import UUID

from nmc_streams.api.database import Conn, Database

# the conversation list and detail (conv_conversations, conv_messages, conversation_reactions)
CONVERSATIONS: Final = "conversations"

VERSION_SQL: Final = "SELECT version FROM read_versions WHERE tenant_id = %(t)s AND scope = %(s)s"
VERSIONS_SQL: Final = ("SELECT tenant_id, version FROM read_versions "
                       "WHERE scope = %(s)s AND tenant_id = ANY(%(t)s)")


def version_column(scope: str) -> str:
    """A scalar sub-query of the tenant's (`%(t)s`) version of `scope`, for body queries."""
    assert scope.isidentifier()  # ours, never a client's: nothing to escape
    return f"(SELECT version FROM read_versions WHERE tenant_id = %(t)s AND scope = '{scope}')"


def entity_tag(tenant_id: UUID, body_format: str, version: int | None, resource: str) -> str:
    """The opaque strong tag of `resource` (what the URL names, normalised by the route) of
    `tenant_id` at `version`, rendered as `body_format`."""
    key = f"{tenant_id}|{body_format}|{version}|{resource}".encode()
    return blake2b(key, digest_size=16).hexdigest()


async def read_version(conn: Conn, tenant_id: UUID, scope: str) -> int | None:
    """The tenant's current version of `scope` (None: no row of the scope was ever written)."""
    cur = await conn.execute(VERSION_SQL, {"t": tenant_id, "s": scope})
    row = await cur.fetchone()
    return None if row is None else int(row["version"])


async def read_versions(conn: Conn, scope: str, tenants: list[UUID]) -> dict[UUID, int]:
    """The current versions of `scope` of those `tenants` that have one."""
    cur = await conn.execute(VERSIONS_SQL, {"s": scope, "t": tenants})
    return {UUID(row["tenant_id"]): int(row["version"]) for row in await cur.fetchall()}


Key = tuple[UUID, str]


class VersionLookups:
    """`read_version` for concurrent requests, batched: at most one lookup in flight per
    process; requests arriving meanwhile wait and share the next one.

    Why it stays exact: a batch is closed (its waiters taken out of `_waiting`) before its
    statement is sent, and PostgreSQL takes the statement's snapshot when it starts running
    it, so every waiter arrived before that snapshot: it sees every commit made before its
    request, as a lookup of its own would. Each waiter has its own future, so a cancelled
    request (client gone) cancels nobody else's."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiting: dict[Key, list[asyncio.Future[int | None]]] = {}
        self._busy = False
        self._task: asyncio.Task[None] | None = None  # the lookup in flight (kept referenced)

    async def version(self, tenant_id: UUID, scope: str) -> int | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int | None] = loop.create_future()
        self._waiting.setdefault((tenant_id, scope), []).append(future)
        if not self._busy:
            self._busy = True
            # after the callbacks already ready: requests that arrived in this same loop
            # iteration join this batch
            loop.call_soon(self._send)
        return await future

    def _send(self) -> None:
        batch, self._waiting = self._waiting, {}  # closed before the statement is sent
        self._task = asyncio.get_running_loop().create_task(self._lookup(batch))

    async def _lookup(self, batch: dict[Key, list[asyncio.Future[int | None]]]) -> None:
        try:
            found: dict[Key, int] = {}
            for scope in sorted({scope for _, scope in batch}):
                tenants = sorted(t for t, s in batch if s == scope)
                versions = await self._db.run(read_versions, scope, tenants)
                found |= {(t, scope): v for t, v in versions.items()}
        except Exception as exc:
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
        except asyncio.CancelledError:
            for futures in batch.values():
                for future in futures:
                    future.cancel()
            raise
        else:
            for key, futures in batch.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            if self._waiting:
                self._send()
            else:
                self._busy = False
