"""The topic layout as part of the contract: what exists, and whether it may be used.

Keys map to partitions by `murmur2(key) % partitions` (DESIGN.md §2), so a domain topic with a
different partition count breaks per-conversation co-partitioning and a changed count moves
keys to other partitions mid-history. `layout_problem` decides (pure); `describe_topics` reads
the cluster for `nmc topics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

SHOWN_CONFIG = ("min.insync.replicas", "retention.ms", "cleanup.policy", "compression.type")


@dataclass(frozen=True)
class TopicInfo:
    """One row of `nmc topics`."""

    name: str
    partitions: int
    replication: int
    under_replicated: int
    config: dict[str, str]


def layout_problem(counts: dict[str, int], configured: int) -> str | None:
    """Why existing topics (name -> partition count) cannot be used, or None when they can."""
    if not counts:
        return None
    distinct = sorted(set(counts.values()))
    if len(distinct) > 1:
        listing = ", ".join(f"{t}={n}" for t, n in sorted(counts.items()))
        return (
            f"domain topics have different partition counts ({listing}); keys of one"
            " conversation would land on unrelated partitions. Refusing to start: create a new"
            " topic set with one count and migrate (docs/operating/topics.md, 'Growing a topic')"
        )
    if distinct[0] != configured:
        return (
            f"domain topics have {distinct[0]} partitions but NMC_TOPIC_PARTITIONS is"
            f" {configured}; keys map to partitions by this count. Refusing to start: set"
            f" NMC_TOPIC_PARTITIONS={distinct[0]}, or migrate to a new topic set"
            " (docs/operating/topics.md, 'Growing a topic')"
        )
    return None


def describe_topics(admin_conf: dict[str, Any], prefix: str = "nmc.") -> list[TopicInfo]:
    """Topics whose name starts with `prefix`, with partitions, replication and key config."""
    admin = AdminClient(admin_conf)
    topics = {
        name: meta
        for name, meta in admin.list_topics(timeout=15).topics.items()
        if name.startswith(prefix)
    }
    resources = [ConfigResource("topic", name) for name in sorted(topics)]
    configs: dict[str, dict[str, str]] = {}
    if resources:
        for resource, future in admin.describe_configs(resources).items():
            entries = future.result()
            configs[resource.name] = {
                k: str(entries[k].value) for k in SHOWN_CONFIG if k in entries
            }
    rows = []
    for name in sorted(topics):
        parts = topics[name].partitions.values()
        replication = max((len(p.replicas) for p in parts), default=0)
        rows.append(
            TopicInfo(
                name=name,
                partitions=len(parts),
                replication=replication,
                under_replicated=sum(1 for p in parts if len(p.isrs) < len(p.replicas)),
                config=configs.get(name, {}),
            )
        )
    return rows
