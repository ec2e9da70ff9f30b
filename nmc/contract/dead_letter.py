"""The dead-letter record format of the consumer contract (docs/consumers/README.md §11).

A dead letter keeps the original key, value and headers byte for byte and adds four headers. The
error is one line, so console tools and log pipelines show one record per line.
"""

from __future__ import annotations

from collections.abc import Mapping

DLQ_ERROR_MAX_CHARS = 1000
DLQ_HEADERS = ("dlq_error", "dlq_attempts", "dlq_group", "dlq_source")


def dlq_topic(group_id: str) -> str:
    """`nmc.dlq.<consumer group>`."""
    return f"nmc.dlq.{group_id}"


def replay_topic(group_id: str) -> str:
    """`nmc.replay.<consumer group>`: where `nmc dlq replay` puts a group's dead letters back.

    Only that group's app reads it (other groups never see a replayed event); same key, so the
    murmur2 partitioner keeps a key's replays in one partition, in the order they were sent."""
    return f"nmc.replay.{group_id}"


REPLAY_HEADERS = ("nmc_replay_of", "nmc_replayed_by")
"""Added to a replayed record: the dead-letter id it came from and the operator."""


def one_line(error: str, limit: int = DLQ_ERROR_MAX_CHARS) -> str:
    """Line breaks and whitespace runs collapsed to single spaces, cut to `limit` characters."""
    flat = " ".join(error.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def dlq_headers(
    original: Mapping[str, str],
    *,
    error: str,
    attempts: int,
    group_id: str,
    topic: str,
    partition: int,
    offset: int,
) -> dict[str, str]:
    """The original headers plus `dlq_error`, `dlq_attempts`, `dlq_group`, `dlq_source`."""
    return {
        **original,
        "dlq_error": one_line(error),
        "dlq_attempts": str(attempts),
        "dlq_group": group_id,
        "dlq_source": f"{topic}:{partition}:{offset}",
    }
