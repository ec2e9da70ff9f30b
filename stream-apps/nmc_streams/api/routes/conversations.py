"""`/v1/conversations`: the caller's conversations, newest activity first, and one with its
messages."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from sqlalchemy import Connection

from nmc_streams.api import cursor as cursors
from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, DbDep, SettingsDep
from nmc_streams.api.errors import ERROR_RESPONSES, NOT_FOUND, invalid, not_found
from nmc_streams.api.models import (
    AutoReply,
    Conversation,
    ConversationDetail,
    ConversationPage,
    ConversationStatus,
    Message,
)
from nmc_streams.api.validators import page_limit

# Full paths, no router prefix: `scope["route"].path` is then the whole template, which the
# metrics label and the tenancy test (routes collected from `app.routes`) rely on.
router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)


@router.get("/v1/conversations", summary="List conversations (keyset pagination)")
async def list_conversations(
    who: CurrentTenant,
    db: DbDep,
    settings: SettingsDep,
    status: Annotated[ConversationStatus | None, Query(description="Only this status.")] = None,
    limit: Annotated[int | None, Query(description="Page size (default and maximum are "
                                       "NMC_API_PAGE_SIZE_DEFAULT / _MAX).")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.",
                                        max_length=cursors.MAX_CURSOR_LENGTH)] = None,
) -> ConversationPage:
    size = page_limit(limit, settings.page_size_default, settings.page_size_max)
    try:
        after = None if cursor is None else cursors.decode(cursor)
    except cursors.InvalidCursor as exc:
        raise invalid("cursor", str(exc)) from None
    rows = await db.run(queries.list_conversations, who.tenant_id, status, after, size)
    items = [Conversation.model_validate(r) for r in rows[:size]]
    next_cursor = None
    if len(rows) > size:
        last = items[-1]
        next_cursor = cursors.encode(
            cursors.ConversationKey(last.last_activity_at, last.conversation_id))
    return ConversationPage(items=items, next_cursor=next_cursor)


def _detail(conn: Connection, tenant_id: UUID,
            conversation_id: UUID) -> ConversationDetail | None:
    row = queries.get_conversation(conn, tenant_id, conversation_id)
    if row is None:
        return None
    messages = queries.conversation_messages(conn, tenant_id, conversation_id)
    decision = queries.auto_reply_decision(conn, tenant_id, conversation_id)
    return ConversationDetail(
        **Conversation.model_validate(row).model_dump(),
        messages=[Message.model_validate(m) for m in messages],
        auto_reply=None if decision is None else AutoReply.model_validate(decision),
    )


@router.get("/v1/conversations/{conversation_id}", summary="One conversation with its messages",
            responses=NOT_FOUND)
async def get_conversation(
    who: CurrentTenant, db: DbDep, conversation_id: Annotated[UUID, Path()]
) -> ConversationDetail:
    found = await db.run(_detail, who.tenant_id, conversation_id)
    if found is None:
        raise not_found("conversation", "conversation_id")
    return found
