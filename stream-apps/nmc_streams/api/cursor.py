"""Opaque keyset cursors for the conversation list.

The list is ordered by (last_activity_at DESC, conversation_id DESC); a cursor is the key of
the last row a page returned, so the next page starts strictly after it, whatever was
inserted meanwhile (no offset drift, no duplicates). It is base64url(JSON) with a version, so
the format can change without breaking cursors in flight. It carries no tenant: the tenant
comes from the token, so a cursor copied across tenants only positions within the caller's
own rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

VERSION = 1
MAX_CURSOR_LENGTH = 256


class InvalidCursor(ValueError):
    """The cursor was not produced by `encode` (tampered, truncated, wrong version)."""


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Position in the conversation list: the last row of the previous page."""

    last_activity_at: datetime
    conversation_id: UUID


def encode(key: ConversationKey) -> str:
    payload = {"v": VERSION, "t": key.last_activity_at.isoformat(),
               "id": str(key.conversation_id)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(cursor: str) -> ConversationKey:
    """Inverse of `encode`; `InvalidCursor` (-> 422 naming `cursor`) on anything else."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("cursor is not a cursor this API issued") from None
    if not isinstance(payload, dict) or payload.get("v") != VERSION:
        raise InvalidCursor("unknown cursor version")
    try:
        at = datetime.fromisoformat(str(payload["t"]))
        conversation_id = UUID(str(payload["id"]))
    except (KeyError, ValueError):
        raise InvalidCursor("cursor is not a cursor this API issued") from None
    if at.tzinfo is None:
        raise InvalidCursor("cursor timestamp has no timezone")
    return ConversationKey(at, conversation_id)
