"""The conversation reads (the inbox: the most used screen) as one statement each, whose
result row carries the response body already rendered by PostgreSQL and the
tenant's read version of the conversations (`freshness`), read in the same statement, hence
the same snapshot: the tag made from it is this body's.

Rendering: each conversation and message row stores its own JSON object (`item_json`, a
generated column, rm0006, rendered as `json_sql` describes when the row is written), so a page
is a concatenation of stored strings and the detail puts its rows' objects together; only the
auto-reply part is rendered here (`json_sql`).

Tenant scoping is as in `queries`: every statement filters on the caller's tenant, passed
first; nothing here takes a tenant from anywhere else.

Entity tags (`freshness.entity_tag`): the tenant, `BODY_FORMAT`, the version and the resource
the URL names (`list_resource`, `detail_resource`). A conditional request whose tag is current
is answered by the route from the version alone (`freshness.read_version`), without these
statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from sqlalchemy import Text, Uuid

from nmc_streams.api.cursor import ConversationKey
from nmc_streams.api.database import Conn
from nmc_streams.api.freshness import CONVERSATIONS, entity_tag, version_column
from nmc_streams.api.json_sql import json_array, json_object, value

# Bump when the rendering or the shape of these bodies changes: old tags then stop matching.
BODY_FORMAT: Final = "conversations-2"

_VERSION = version_column(CONVERSATIONS)
_ORDER = "last_activity_at DESC, conversation_id DESC"


def _page(status: bool, after: bool) -> str:
    """Keyset page of `n` rows (indexes conv_conversations_page / _page_status cover it: an
    index-only scan, no sort) and whether a row follows its last one (one index probe)."""
    where = "tenant_id = %(t)s" + (" AND status = %(status)s" if status else "")
    since = " AND (last_activity_at, conversation_id) < (%(at)s, %(id)s)" if after else ""
    return (
        "WITH page AS MATERIALIZED (SELECT last_activity_at, conversation_id, item_json "
        f"FROM conv_conversations WHERE {where}{since} ORDER BY {_ORDER} LIMIT %(n)s), "
        "last AS MATERIALIZED (SELECT last_activity_at, conversation_id FROM page "
        "ORDER BY last_activity_at, conversation_id LIMIT 1), "
        # the probe's bound as parameters and the index's order, so it is one index-only
        # step: as EXISTS or a join the planner picks a seq scan that "stops early", which
        # on the last page reads the whole table
        f"more AS MATERIALIZED (SELECT (SELECT true FROM conv_conversations WHERE {where} "
        "AND (last_activity_at, conversation_id) < ((SELECT last_activity_at FROM last), "
        f"(SELECT conversation_id FROM last)) ORDER BY {_ORDER} LIMIT 1) IS NOT NULL AS more) "
        f"SELECT {_VERSION} AS read_version, "
        + json_array("p.item_json", "page p", _ORDER)
        + " AS items, l.last_activity_at AS last_at, l.conversation_id AS last_id "
        "FROM more LEFT JOIN last l ON more.more"
    )


_LIST: Final = {(s, a): _page(s, a) for s in (False, True) for a in (False, True)}

# The conversation, its messages (oldest first) and the reactions' auto-reply decision (a
# conversation is its thread: same id as the reactions' correlation_id).
_DETAIL: Final = (
    "WITH p AS (SELECT c.*, r.auto_reply, r.auto_reply_reason, r.auto_reply_message_id "
    "FROM conv_conversations c LEFT JOIN conversation_reactions r "
    "ON r.tenant_id = c.tenant_id AND r.correlation_id = c.conversation_id "
    "AND r.auto_reply IS NOT NULL "
    "WHERE c.tenant_id = %(t)s AND c.conversation_id = %(c)s), "
    "m AS (SELECT * FROM conv_messages WHERE tenant_id = %(t)s AND conversation_id = %(c)s) "
    f"SELECT {_VERSION} AS read_version, left(p.item_json, -1) || ',\"messages\":' || "
    + json_array("m.item_json", "m", "m.first_seen_at, m.message_id")
    + " || ',\"auto_reply\":' || CASE WHEN p.auto_reply IS NULL THEN 'null' ELSE "
    + json_object([
        ("decision", value("p.auto_reply", Text())),
        ("reason", value("p.auto_reply_reason", Text())),
        ("message_id", value("p.auto_reply_message_id", Uuid())),
    ]) + " END || '}' AS body FROM p"
)


def list_resource(status: str | None, after: ConversationKey | None, limit: int) -> str:
    """What a list URL names, for its tag (the same page parameters: the same resource)."""
    at = "" if after is None else f"{after.last_activity_at.isoformat()}/{after.conversation_id}"
    return f"list|{status or ''}|{at}|{limit}"


def detail_resource(conversation_id: UUID) -> str:
    """What a detail URL names, for its tag."""
    return f"detail|{conversation_id}"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A body as PostgreSQL rendered it, and its tag."""

    etag: str
    body: str


@dataclass(frozen=True, slots=True)
class RenderedPage(Rendered):
    """A page of the list; `last` is the key of its last row when another page follows."""

    last: ConversationKey | None


async def conversation_page(conn: Conn, tenant_id: UUID, status: str | None,
                            after: ConversationKey | None, limit: int) -> RenderedPage:
    """One page, newest activity first: the `items` array and its tag."""
    params: dict[str, Any] = {"t": tenant_id, "n": limit, "status": status}
    if after is not None:
        params |= {"at": after.last_activity_at, "id": after.conversation_id}
    cur = await conn.execute(_LIST[status is not None, after is not None], params)
    row = await cur.fetchone()
    assert row is not None  # an aggregate: always one row
    last = None
    if row["last_at"] is not None:
        last = ConversationKey(row["last_at"], UUID(row["last_id"]))
    tag = entity_tag(tenant_id, BODY_FORMAT, row["read_version"],
                     list_resource(status, after, limit))
    return RenderedPage(tag, row["items"], last)


async def conversation_detail(conn: Conn, tenant_id: UUID,
                              conversation_id: UUID) -> Rendered | None:
    """The `ConversationDetail` body and its tag; None when the tenant has no such one."""
    cur = await conn.execute(_DETAIL, {"t": tenant_id, "c": conversation_id})
    row = await cur.fetchone()
    if row is None:
        return None
    tag = entity_tag(tenant_id, BODY_FORMAT, row["read_version"],
                     detail_resource(conversation_id))
    return Rendered(tag, row["body"])
