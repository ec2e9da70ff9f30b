"""`/v1/conversations`: the caller's conversations, newest activity first, and one with its
messages."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query

from nmc_streams.api import cursor as cursors
from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, DbDep, SettingsDep
from nmc_streams.api.errors import ERROR_RESPONSES, NOT_FOUND, invalid, not_found
from nmc_streams.api.models import ConversationDetail, ConversationPage, ConversationStatus
from nmc_streams.api.responses import JsonBody
from nmc_streams.api.validators import page_limit

# Full paths, no router prefix: `scope["route"].path` is then the whole template, which the
# metrics label and the tenancy test (routes collected from `app.routes`) rely on.
router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)


@router.get("/v1/conversations", summary="List conversations (keyset pagination)",
            response_model=ConversationPage)
async def list_conversations(
    who: CurrentTenant,
    db: DbDep,
    settings: SettingsDep,
    status: Annotated[ConversationStatus | None, Query(description="Only this status.")] = None,
    limit: Annotated[int | None, Query(description="Page size (default and maximum are "
                                       "NMC_API_PAGE_SIZE_DEFAULT / _MAX).")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.",
                                        max_length=cursors.MAX_CURSOR_LENGTH)] = None,
) -> JsonBody:
    size = page_limit(limit, settings.page_size_default, settings.page_size_max)
    try:
        after = None if cursor is None else cursors.decode(cursor)
    except cursors.InvalidCursor as exc:
        raise invalid("cursor", str(exc)) from None
    rows = await db.run(queries.list_conversations, who.tenant_id, status, after, size)
    next_cursor = None
    if len(rows) > size:
        del rows[size:]
        last = rows[-1]
        next_cursor = cursors.encode(cursors.ConversationKey(
            last["last_activity_at"], UUID(last["conversation_id"])))
    return JsonBody({"items": rows, "next_cursor": next_cursor})


def _detail(found: tuple[dict[str, Any], list[dict[str, Any]]]) -> dict[str, Any]:
    """ConversationDetail: the conversation's columns, its messages, the auto-reply."""
    row, messages = found
    decision = row.pop("auto_reply_decision")
    reason = row.pop("auto_reply_reason")
    message_id = row.pop("auto_reply_message_id")
    row["messages"] = messages
    row["auto_reply"] = None if decision is None else {
        "decision": decision, "reason": reason, "message_id": message_id}
    return row


@router.get("/v1/conversations/{conversation_id}", summary="One conversation with its messages",
            responses=NOT_FOUND, response_model=ConversationDetail)
async def get_conversation(
    who: CurrentTenant, db: DbDep, conversation_id: Annotated[UUID, Path()]
) -> JsonBody:
    found = await db.run(queries.get_conversation, who.tenant_id, conversation_id)
    if found is None:
        raise not_found("conversation", "conversation_id")
    return JsonBody(_detail(found))
