"""Example events built from `schemas-avro/catalog.json` (the demo, tests and docs use them)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from nmc.contract.schemas import SCHEMA_DIR, default_catalog


@lru_cache(maxsize=1)
def catalog_metadata() -> Mapping[str, Mapping[str, Any]]:
    """Per event: domain, when, producer, consumers, example_payload (from the seed catalog)."""
    data: dict[str, Mapping[str, Any]] = json.loads(
        (SCHEMA_DIR / "catalog.json").read_text(encoding="utf-8")
    )
    return data


def example_envelopes(
    tenant_id: uuid.UUID, correlation_id: uuid.UUID, start: datetime | None = None
) -> list[dict[str, Any]]:
    """One fresh JSON envelope per catalog event, a causation chain in catalog order."""
    start = start or datetime.now(UTC).replace(microsecond=0)
    envelopes: list[dict[str, Any]] = []
    previous: str | None = None
    for i, (name, meta) in enumerate(catalog_metadata().items()):
        event_id = str(uuid.uuid4())
        envelopes.append(
            {
                "event_id": event_id,
                "event_name": name,
                "schema_version": default_catalog().latest(name).version,
                "tenant_id": str(tenant_id),
                "occurred_at": (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "correlation_id": str(correlation_id),
                "causation_id": previous,
                "payload": dict(meta["example_payload"]),
            }
        )
        previous = event_id
    return envelopes
