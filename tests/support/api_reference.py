"""The conversation bodies as the read API made them before PostgreSQL rendered them (issue
#24): driver rows (dicts of uuid text, aware datetimes, ints) assembled in Python and encoded
by pydantic-core. The integration tests compare the API's bytes with these, so the rendering
in SQL (`nmc_streams.api.json_sql`) cannot drift from what clients always got.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy import Table

from nmc_streams.api.cursor import ConversationKey, encode
from nmc_streams.api.database import Conn
from nmc_streams.conversation.app import conv_conversations, conv_messages


def _columns(table: Table, *hidden: str, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c.name}" for c in table.c if c.name not in hidden)


_CONVERSATION_COLUMNS = _columns(conv_conversations, "tenant_id", "version")
_MESSAGE_COLUMNS = _columns(conv_messages, "tenant_id", "version", "conversation_id",
                            "correlation_id", "provider_ref")


async def page(conn: Conn, tenant_id: UUID, status: str | None, after: ConversationKey | None,
               limit: int) -> bytes:
    """`ConversationPage` JSON: `limit + 1` rows fetched, the extra one means "more"."""
    sql = (f"SELECT {_CONVERSATION_COLUMNS} FROM conv_conversations WHERE tenant_id = %(t)s"
           + (" AND status = %(status)s" if status else "")
           + (" AND (last_activity_at, conversation_id) < (%(at)s, %(id)s)" if after else "")
           + " ORDER BY last_activity_at DESC, conversation_id DESC LIMIT %(n)s")
    params: dict[str, Any] = {"t": tenant_id, "n": limit + 1, "status": status}
    if after is not None:
        params |= {"at": after.last_activity_at, "id": after.conversation_id}
    rows = await (await conn.execute(sql, params)).fetchall()
    next_cursor = None
    if len(rows) > limit:
        del rows[limit:]
        last = rows[-1]
        next_cursor = encode(ConversationKey(last["last_activity_at"],
                                             UUID(last["conversation_id"])))
    return to_json({"items": rows, "next_cursor": next_cursor})


async def detail(conn: Conn, tenant_id: UUID, conversation_id: UUID) -> bytes | None:
    """`ConversationDetail` JSON, None when the tenant has no such conversation."""
    params = {"t": tenant_id, "c": conversation_id}
    row = await (await conn.execute(
        f"SELECT {_columns(conv_conversations, 'tenant_id', 'version', prefix='c.')}, "
        "r.auto_reply AS auto_reply_decision, r.auto_reply_reason, r.auto_reply_message_id "
        "FROM conv_conversations c LEFT JOIN conversation_reactions r "
        "ON r.tenant_id = c.tenant_id AND r.correlation_id = c.conversation_id "
        "AND r.auto_reply IS NOT NULL "
        "WHERE c.tenant_id = %(t)s AND c.conversation_id = %(c)s", params)).fetchone()
    if row is None:
        return None
    messages = await (await conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM conv_messages WHERE tenant_id = %(t)s "
        "AND conversation_id = %(c)s ORDER BY first_seen_at, message_id", params)).fetchall()
    decision = row.pop("auto_reply_decision")
    reason = row.pop("auto_reply_reason")
    message_id = row.pop("auto_reply_message_id")
    row["messages"] = messages
    row["auto_reply"] = None if decision is None else {
        "decision": decision, "reason": reason, "message_id": message_id}
    return to_json(row)
