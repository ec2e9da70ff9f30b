"""`POST /v1/conversations/{conversation_id}/takeover`: a user takes a conversation over
(`producers.conversation.takeover`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from producers.conversation import takeover
from producers.edges.bodies import Body
from producers.edges.deps import Caller, EdgeDep, event_ref, now
from producers.errors import Refused

router = APIRouter()


class TakeoverIn(Body):
    causation_id: UUID | None = None


@router.post("/v1/conversations/{conversation_id}/takeover")
def post_takeover(conversation_id: UUID, who: Caller, edge: EdgeDep,
                  body: TakeoverIn | None = None) -> dict[str, Any]:
    if who.user_id is None:
        raise Refused(403, "token has no user (sub claim)", "Authorization")
    user = who.user_id
    causation = None if body is None else body.causation_id
    event = edge.transaction(lambda s: takeover.request_takeover(
        s, edge.writer, who.tenant_id, conversation_id, user, now(), causation))
    return {"conversation_id": str(conversation_id), "event": event_ref(event)}
