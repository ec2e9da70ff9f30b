"""`/v1/conversations`: the caller's conversations, newest activity first, and one with its
messages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import Field

from nmc_streams.api import cursor as cursors
from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, database, settings_of
from nmc_streams.api.errors import ERROR_RESPONSES, NOT_FOUND, invalid, not_found
from nmc_streams.api.models import ConversationDetail, ConversationPage, ConversationStatus
from nmc_streams.api.params import Params, openapi_parameters, parse
from nmc_streams.api.responses import JsonBody
from nmc_streams.api.validators import page_limit

# Full paths, no router prefix: `scope["route"].path` is then the whole template, which the
# metrics label and the tenancy test (routes collected from `app.routes`) rely on.
router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)


class ListQuery(Params):
    status: ConversationStatus | None = Field(default=None, description="Only this status.")
    limit: int | None = Field(default=None, description="Page size (default and maximum are "
                              "NMC_API_PAGE_SIZE_DEFAULT / _MAX).")
    cursor: str | None = Field(default=None, max_length=cursors.MAX_CURSOR_LENGTH,
                               description="`next_cursor` of the previous page.")


class ConversationPath(Params):
    path = frozenset({"conversation_id"})
    conversation_id: UUID


@router.get("/v1/conversations", summary="List conversations (keyset pagination)",
            response_model=ConversationPage, openapi_extra=openapi_parameters(ListQuery))
async def list_conversations(request: Request, who: CurrentTenant) -> JsonBody:
    q = parse(ListQuery, request)
    settings = settings_of(request)
    size = page_limit(q.limit, settings.page_size_default, settings.page_size_max)
    try:
        after = None if q.cursor is None else cursors.decode(q.cursor)
    except cursors.InvalidCursor as exc:
        raise invalid("cursor", str(exc)) from None
    rows = await database(request).run(queries.list_conversations, who.tenant_id, q.status,
                                       after, size)
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
            responses=NOT_FOUND, response_model=ConversationDetail,
            openapi_extra=openapi_parameters(ConversationPath))
async def get_conversation(request: Request, who: CurrentTenant) -> JsonBody:
    p = parse(ConversationPath, request)
    found = await database(request).run(queries.get_conversation, who.tenant_id,
                                        p.conversation_id)
    if found is None:
        raise not_found("conversation", "conversation_id")
    return JsonBody(_detail(found))
