"""The dead-letter table and the replay record in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, text

from nmc.dlq.model import DeadLetter, Selection

_COLUMNS = ("d.id, d.group_id, d.app, d.topic, d.partition, d.\"offset\", d.record_key,"
            " d.event_id, d.event_name, d.tenant_id, d.error, d.attempts, d.created_at,"
            " d.headers, d.raw_value, d.event")


def _letter(row: Any, replays: Sequence[dict[str, Any]]) -> DeadLetter:
    return DeadLetter(
        id=row.id, group_id=row.group_id, app=row.app, topic=row.topic,
        partition=row.partition, offset=row.offset, record_key=row.record_key,
        event_id=row.event_id, event_name=row.event_name, tenant_id=row.tenant_id,
        error=row.error, attempts=row.attempts, created_at=row.created_at,
        headers={str(k): str(v) for k, v in (row.headers or {}).items()},
        raw_value=bytes(row.raw_value) if row.raw_value is not None else None,
        event=row.event, replays=tuple(replays),
    )


def select(engine: Engine, selection: Selection, limit: int | None = None) -> list[DeadLetter]:
    """Dead letters matching `selection`, oldest first, with their replay history."""
    where, params = selection.where()
    sql = f"SELECT {_COLUMNS} FROM stream_dead_letters d WHERE {where} ORDER BY d.id"
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
        history = _replays(conn, [r.id for r in rows])
    return [_letter(r, history.get(r.id, [])) for r in rows]


def _replays(conn: Any, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    if not ids:
        return {}
    rows = conn.execute(text(
        "SELECT dead_letter_id, replay_topic, replay_partition, replay_offset, replayed_by,"
        " replayed_at FROM dead_letter_replays WHERE dead_letter_id = ANY(:ids) ORDER BY id"
    ), {"ids": list(ids)}).all()
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.dead_letter_id, []).append({
            "topic": r.replay_topic, "partition": r.replay_partition, "offset": r.replay_offset,
            "by": r.replayed_by, "at": r.replayed_at.isoformat(),
        })
    return out


def record_replays(engine: Engine, sent: Iterable[tuple[DeadLetter, str, int, int]],
                   operator: str) -> int:
    """One row per record the replay topic acknowledged: who sent which dead letter where."""
    rows = [{"dl": d.id, "group": d.group_id, "event_id": d.event_id, "name": d.event_name,
             "key": d.record_key, "source": d.source, "topic": topic, "partition": partition,
             "offset": offset, "by": operator} for d, topic, partition, offset in sent]
    if not rows:
        return 0
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO dead_letter_replays (dead_letter_id, group_id, event_id, event_name,"
            " record_key, source, replay_topic, replay_partition, replay_offset, replayed_by)"
            " VALUES (:dl, :group, :event_id, :name, :key, :source, :topic, :partition,"
            " :offset, :by)"), rows)
    return len(rows)


def purge(engine: Engine, selection: Selection) -> list[int]:
    """Delete the selected dead letters; their replay records stay (who replayed what)."""
    where, params = selection.where()
    with engine.begin() as conn:
        rows = conn.execute(
            text(f"DELETE FROM stream_dead_letters d WHERE {where} RETURNING d.id"), params
        ).all()
    return sorted(r.id for r in rows)
