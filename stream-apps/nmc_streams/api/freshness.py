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
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Final
from uuid import UUID

from nmc_streams.api.database import Conn

# the conversation list and detail (conv_conversations, conv_messages, conversation_reactions)
CONVERSATIONS: Final = "conversations"

VERSION_SQL: Final = "SELECT version FROM read_versions WHERE tenant_id = %(t)s AND scope = %(s)s"


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
