"""Deterministic ids: a provider's retry produces the same ids, hence the same event_id, which
the outbox ignores as a duplicate."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6f1c1d0e-4e0a-5b7e-9a57-3d0c2b1a9e11")


def stable_id(*parts: object) -> uuid.UUID:
    """uuid5 over the parts (joined with a separator that cannot occur in provider ids)."""
    return uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts))
