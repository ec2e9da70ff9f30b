"""Remove what one demo run created and nothing else needs afterwards.

A run gets its own consumer groups (`nmc-demo-<run>-<app>`), so the stream apps and the reactions
consumer create per-run topics — dead letters `nmc.dlq.nmc-demo-<run>-<app>`, changelog and
other Faust-internal topics `nmc-demo-<run>-…` — and per-run table state on disk. Left behind,
every run adds four DLQ topics, three changelogs, four groups and three state directories.
Which names belong to a run is decided by pure functions; `remove_run` does the deleting.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from nmc.contract.dead_letter import dlq_topic, replay_topic
from nmc.infra.kafka_clients import admin_config
from nmc.infra.settings import Settings


def run_topics(topics: Iterable[str], prefix: str) -> list[str]:
    """The run's dead-letter and replay topics and its stream apps' internal topics."""
    owned = (dlq_topic(prefix) + "-", replay_topic(prefix) + "-", prefix + "-")
    return sorted(t for t in topics if t.startswith(owned))


def run_groups(groups: Iterable[str], prefix: str) -> list[str]:
    """The run's consumer groups: `<prefix>` itself and `<prefix>-<anything>`."""
    return sorted(g for g in groups if g == prefix or g.startswith(prefix + "-"))


@dataclass
class Removed:
    """What a cleanup removed, and what it could not (with the reason)."""

    topics: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"removed {len(self.topics)} topics, {len(self.groups)} consumer groups and"
                f" {len(self.dirs)} state directories of this run")
        return text + (f"; could not remove: {', '.join(self.failed)}" if self.failed else "")


def remove_run(settings: Settings, prefix: str, state_dirs: Iterable[Path] = (),
               timeout_s: float = 30.0) -> Removed:
    """Delete the run's topics and consumer groups (its processes must have stopped first)."""
    removed = Removed()
    admin = AdminClient(admin_config(settings))
    topics = run_topics(admin.list_topics(timeout=timeout_s).topics, prefix)
    if topics:
        for topic, future in admin.delete_topics(topics, operation_timeout=timeout_s).items():
            try:
                future.result()
                removed.topics.append(topic)
            except Exception as exc:
                removed.failed.append(f"topic {topic} ({exc})")
    listing = admin.list_consumer_groups(request_timeout=timeout_s).result()
    groups = run_groups((g.group_id for g in listing.valid), prefix)
    if groups:
        for group, future in admin.delete_consumer_groups(
            groups, request_timeout=timeout_s
        ).items():
            try:
                future.result()
                removed.groups.append(group)
            except Exception as exc:
                removed.failed.append(f"group {group} ({exc})")
    for path in state_dirs:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
            removed.dirs.append(path)
    return removed
