"""A human takes a conversation over: the auto-replies stop (see the reactions)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from nmc.contract.envelope import Envelope
from producers.conversation.threads import thread_exists
from producers.errors import Refused
from producers.outbox import OutboxWriter, emit


def request_takeover(
    session: Session, writer: OutboxWriter, tenant_id: UUID, conversation_id: UUID, user_id: UUID,
    now: datetime, causation_id: UUID | None = None,
) -> Envelope:
    """HumanTakeoverRequested in the conversation's thread (thread id = conversation id)."""
    if not thread_exists(session, tenant_id, conversation_id):
        raise Refused(404, "unknown conversation for this tenant", "conversation_id")
    return emit(session, writer, "nmc.conversation.HumanTakeoverRequested", tenant_id,
                 conversation_id, {"conversation_id": str(conversation_id),
                                   "user_id": str(user_id)}, now, causation_id)
