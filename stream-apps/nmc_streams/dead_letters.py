"""The stream apps' side of the dead-letter contract (DESIGN.md §2): a record that can never
be processed goes to the topic `nmc.dlq.<group>` and to a `stream_dead_letters` row.

`dead_letter_row` is the row (pure); `FaustDeadLetterSink` is the projector's `DeadLetterSink`
for a worker (topic through its Faust app, row through its engine). The rebuild has its own
sink on a plain producer (`rebuild.py`) and uses the same row.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine

from nmc.contract.dead_letter import dlq_headers
from nmc.contract.facts import Fact
from nmc.infra.dead_letters import record_dead_letter
from nmc_streams.batch import Record


def dead_letter_row(
    group_id: str, app: str, record: Record, fact: Fact | None, error: str, attempts: int
) -> dict[str, Any]:
    """The `stream_dead_letters` row of a record (the event as JSON when it decoded)."""
    return {
        "group_id": group_id,
        "app": app,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "record_key": record.key.decode(errors="replace") if record.key else None,
        "event_id": fact.event_id if fact else record.headers.get("event_id"),
        "event_name": (fact.name if fact else None) or record.headers.get("event_name"),
        "tenant_id": fact.tenant_id if fact else record.headers.get("tenant_id"),
        "event": {
            "event_id": fact.event_id,
            "name": fact.name,
            "tenant_id": fact.tenant_id,
            "correlation_id": fact.correlation_id,
            **fact.to_json(),
        }
        if fact
        else None,
        "raw_value": record.value,
        "headers": dict(record.headers),
        "error": error,
        "attempts": attempts,
    }


class FaustDeadLetterSink:
    """`DeadLetterSink` of a worker: the record (with the contract's headers) on its DLQ topic,
    acknowledged, then its row; the projector retries the pair until both are done."""

    def __init__(self, topic: Any, engine: Engine, group_id: str, app: str) -> None:
        self.topic = topic  # a faust Topic with raw serializers
        self.engine = engine
        self.group_id = group_id
        self.app = app

    async def __call__(self, record: Record, fact: Fact | None, error: str,
                       attempts: int) -> None:
        all_headers = dlq_headers(
            record.headers, error=error, attempts=attempts, group_id=self.group_id,
            topic=record.topic, partition=record.partition, offset=record.offset,
        )
        headers = [(k, v.encode()) for k, v in all_headers.items()]
        fut = await self.topic.send(key=record.key, value=record.value or b"", headers=headers)
        await fut
        row = dead_letter_row(self.group_id, self.app, record, fact, error, attempts)
        await asyncio.to_thread(record_dead_letter, self.engine, row)
