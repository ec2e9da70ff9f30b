"""The conversation reads (the inbox: the most used screen) as one statement each, whose
result row carries the response body already rendered by PostgreSQL (`json_sql`) and its
entity tag.

Tenant scoping is as in `queries`: every statement filters on the caller's tenant, passed
first; nothing here takes a tenant from anywhere else.

Entity tags. A tag is md5 over the tenant, `BODY_FORMAT`, and the `version` of every row the
body is made of (plus what the body shows that has no version: the page's "more" flag, the
auto-reply decision). Read-model rows change only through upserts that carry a new version
(`nmc_streams.db`), so an equal tag means an equal body. When the tag is one the client sent
(`If-None-Match`), the statement skips the body: the sub-query that renders it sits in a
`CASE` branch PostgreSQL never enters (EXPLAIN shows it "never executed"), so a 304 costs
the index lookups and the hash only. The tenant is in the hash, so a tag can never match
another tenant's rows, and a missing or foreign conversation has no row at all (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from sqlalchemy import Text, Uuid

from nmc_streams.api.cursor import ConversationKey
from nmc_streams.api.database import Conn
from nmc_streams.api.json_sql import fields, json_array, json_object, value
from nmc_streams.conversation.app import conv_conversations, conv_messages

# Bump when the rendering or the shape of these bodies changes: old tags then stop matching.
BODY_FORMAT: Final = "conversations-1"

_CONVERSATION = fields(conv_conversations, "p", "tenant_id", "version")
_MESSAGE = fields(conv_messages, "m", "tenant_id", "version", "conversation_id",
                  "correlation_id", "provider_ref")
_SKIP = "(e.etag = ANY(%(inm)s::text[]) OR '*' = ANY(%(inm)s::text[]))"
_ORDER = "last_activity_at DESC, conversation_id DESC"


def _page(status: bool, after: bool) -> str:
    """Keyset page of `n` rows (indexes conv_conversations_page / _page_status cover it: an
    index-only scan, no sort) and whether a row follows its last one (one index probe)."""
    where = "tenant_id = %(t)s" + (" AND status = %(status)s" if status else "")
    since = " AND (last_activity_at, conversation_id) < (%(at)s, %(id)s)" if after else ""
    columns = ", ".join(c.name for c in conv_conversations.c if c.name != "tenant_id")
    return (
        f"WITH page AS MATERIALIZED (SELECT {columns} FROM conv_conversations "
        f"WHERE {where}{since} ORDER BY {_ORDER} LIMIT %(n)s), "
        "last AS MATERIALIZED (SELECT last_activity_at, conversation_id FROM page "
        "ORDER BY last_activity_at, conversation_id LIMIT 1), "
        # the probe's bound as parameters and the index's order, so it is one index-only
        # step: as EXISTS or a join the planner picks a seq scan that "stops early", which
        # on the last page reads the whole table
        f"more AS MATERIALIZED (SELECT (SELECT true FROM conv_conversations WHERE {where} "
        "AND (last_activity_at, conversation_id) < ((SELECT last_activity_at FROM last), "
        f"(SELECT conversation_id FROM last)) ORDER BY {_ORDER} LIMIT 1) IS NOT NULL AS more), "
        "e AS MATERIALIZED (SELECT md5(row(%(t)s::text, '" + BODY_FORMAT + "', "
        "(SELECT more FROM more), "
        f"(SELECT string_agg(conversation_id || ':' || version, ',' ORDER BY {_ORDER}) "
        "FROM page))::text) AS etag) "
        "SELECT e.etag, CASE WHEN " + _SKIP + " THEN NULL ELSE "
        + json_array(json_object(_CONVERSATION), "page p", _ORDER)
        + " END AS items, l.last_activity_at AS last_at, l.conversation_id AS last_id "
        "FROM e LEFT JOIN last l ON (SELECT more FROM more)"
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
    "m AS (SELECT * FROM conv_messages WHERE tenant_id = %(t)s AND conversation_id = %(c)s), "
    "e AS MATERIALIZED (SELECT md5(row(%(t)s::text, '" + BODY_FORMAT + "', p.version, "
    "p.auto_reply, p.auto_reply_reason, p.auto_reply_message_id, "
    "(SELECT string_agg(m.message_id || ':' || m.version, ',' ORDER BY m.message_id) FROM m)"
    ")::text) AS etag FROM p) "
    "SELECT e.etag, CASE WHEN " + _SKIP + " THEN NULL ELSE (SELECT " + json_object([
        *_CONVERSATION,
        ("messages", json_array(json_object(_MESSAGE), "m", "m.first_seen_at, m.message_id")),
        ("auto_reply", "CASE WHEN p.auto_reply IS NULL THEN 'null' ELSE " + json_object([
            ("decision", value("p.auto_reply", Text())),
            ("reason", value("p.auto_reply_reason", Text())),
            ("message_id", value("p.auto_reply_message_id", Uuid())),
        ]) + " END"),
    ]) + " FROM p) END AS body FROM e"
)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A body as PostgreSQL rendered it (None: the client's tag matched, no body made)."""

    etag: str
    body: str | None


@dataclass(frozen=True, slots=True)
class RenderedPage(Rendered):
    """A page of the list; `last` is the key of its last row when another page follows."""

    last: ConversationKey | None


async def conversation_page(conn: Conn, tenant_id: UUID, status: str | None,
                            after: ConversationKey | None, limit: int,
                            if_none_match: list[str] | None) -> RenderedPage:
    """One page, newest activity first: the `items` array and its tag."""
    params: dict[str, Any] = {"t": tenant_id, "n": limit, "status": status,
                              "inm": if_none_match}
    if after is not None:
        params |= {"at": after.last_activity_at, "id": after.conversation_id}
    cur = await conn.execute(_LIST[status is not None, after is not None], params)
    row = await cur.fetchone()
    assert row is not None  # an aggregate: always one row
    last = None
    if row["last_at"] is not None:
        last = ConversationKey(row["last_at"], UUID(row["last_id"]))
    return RenderedPage(row["etag"], row["items"], last)


async def conversation_detail(conn: Conn, tenant_id: UUID, conversation_id: UUID,
                              if_none_match: list[str] | None) -> Rendered | None:
    """The `ConversationDetail` body and its tag; None when the tenant has no such one."""
    cur = await conn.execute(_DETAIL, {"t": tenant_id, "c": conversation_id,
                                       "inm": if_none_match})
    row = await cur.fetchone()
    return None if row is None else Rendered(row["etag"], row["body"])
