"""Remove what one demo run created and nothing else needs afterwards.

A run gets its own consumer groups (`nmc-demo-<run>-<app>`), so the stream apps and the reactions
consumer create per-run topics — dead letters `nmc.dlq.nmc-demo-<run>-<app>`, changelog and
other Faust-internal topics `nmc-demo-<run>-…` — and per-run table state on disk. Left behind,
every run adds four DLQ topics, three changelogs, four groups and three state directories.
Which names belong to a run is decided by pure functions; `remove_run` does the deleting.
`nmc demo --evolve` works on isolated copies of the domain topics instead (`nmc.<domain><suffix>`,
their own registry subjects, a scratch database): `remove_suffixed` deletes those.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError

from nmc.contract.dead_letter import dlq_topic, replay_topic
from nmc.contract.schemas import DOMAINS, topic_for
from nmc.infra.connection import url_with_userinfo
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import admin_config
from nmc.infra.settings import ServiceSettings
from nmc.schema_gate.registry_api import Registry, RegistryUnavailable


def run_topics(topics: Iterable[str], prefix: str) -> list[str]:
    """The run's dead-letter and replay topics and its stream apps' internal topics."""
    owned = (dlq_topic(prefix) + "-", replay_topic(prefix) + "-", prefix + "-")
    return sorted(t for t in topics if t.startswith(owned))


def run_groups(groups: Iterable[str], prefix: str) -> list[str]:
    """The run's consumer groups: `<prefix>` itself and `<prefix>-<anything>`."""
    return sorted(g for g in groups if g == prefix or g.startswith(prefix + "-"))


def suffixed_topics(topics: Iterable[str], suffix: str) -> list[str]:
    """The isolated copies of the domain topics a run made (`nmc.<domain><suffix>`)."""
    return sorted(t for t in topics if t.startswith("nmc.") and t.endswith(suffix))


def suffixed_subjects(subjects: Iterable[str], suffix: str) -> list[str]:
    """The registry subjects of those copies (`nmc.<domain><suffix>-<record full name>`)."""
    owned = tuple(f"{topic_for(d)}{suffix}-" for d in DOMAINS)
    return sorted(s for s in subjects if s.startswith(owned))


@dataclass
class Removed:
    """What a cleanup removed, and what it could not (with the reason)."""

    topics: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.topics)} topics", f"{len(self.groups)} consumer groups"]
        parts += [f"{len(self.subjects)} registry subjects"] if self.subjects else []
        parts += [f"{len(self.databases)} scratch databases"] if self.databases else []
        parts += [f"{len(self.dirs)} state directories"] if self.dirs else []
        text = f"removed {', '.join(parts[:-1])} and {parts[-1]} of this run"
        return text + (f"; could not remove: {', '.join(self.failed)}" if self.failed else "")


def remove_run(settings: ServiceSettings, prefix: str, state_dirs: Iterable[Path] = (),
               timeout_s: float = 30.0) -> Removed:
    """Delete the run's topics and consumer groups (its processes must have stopped first)."""
    removed = Removed()
    admin = AdminClient(admin_config(settings))
    _delete_topics(admin, run_topics(admin.list_topics(timeout=timeout_s).topics, prefix),
                   removed, timeout_s)
    _delete_groups(admin, prefix, removed, timeout_s)
    for path in state_dirs:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
            removed.dirs.append(path)
    return removed


def remove_suffixed(settings: ServiceSettings, suffix: str, group_prefix: str,
                    database_url: str | None = None, timeout_s: float = 30.0) -> Removed:
    """Delete what a run on isolated topic copies made (`nmc demo --evolve`): the copies, their
    registry subjects (hard-deleted, soft-deleted ones too), the groups `<group_prefix>[-…]`
    and its scratch database. Each part is tried even when another failed."""
    removed = Removed()
    admin = AdminClient(admin_config(settings))
    try:
        _delete_topics(admin, suffixed_topics(admin.list_topics(timeout=timeout_s).topics,
                                              suffix), removed, timeout_s)
        _delete_groups(admin, group_prefix, removed, timeout_s)
    except KafkaException as exc:
        removed.failed.append(f"topics and groups *{suffix} ({exc})")
    try:
        with Registry(url_with_userinfo(settings.registry, settings.connection)) as registry:
            for subject in suffixed_subjects(registry.subjects(deleted=True), suffix):
                try:
                    registry.delete_subject(subject)
                    removed.subjects.append(subject)
                except RegistryUnavailable as exc:
                    removed.failed.append(f"subject {subject} ({exc})")
    except RegistryUnavailable as exc:
        removed.failed.append(f"subjects *{suffix}-* ({exc})")
    if database_url is not None:
        name = make_url(database_url).database or ""
        try:
            if drop_database(settings.database, name):
                removed.databases.append(name)
        except SQLAlchemyError as exc:
            removed.failed.append(f"database {name} ({exc})")
    return removed


def drop_database(server_url: str, name: str) -> bool:
    """`DROP DATABASE … WITH (FORCE)` on the server of `server_url`; False when there was none
    (a run interrupted before it made it)."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            existed = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                   {"n": name}).first() is not None
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return existed
    finally:
        admin.dispose()


def _delete_topics(admin: AdminClient, topics: list[str], removed: Removed,
                   timeout_s: float) -> None:
    if not topics:
        return
    for topic, future in admin.delete_topics(topics, operation_timeout=timeout_s).items():
        try:
            future.result()
            removed.topics.append(topic)
        except Exception as exc:
            removed.failed.append(f"topic {topic} ({exc})")


def _delete_groups(admin: AdminClient, prefix: str, removed: Removed, timeout_s: float) -> None:
    listing = admin.list_consumer_groups(request_timeout=timeout_s).result()
    groups = run_groups((g.group_id for g in listing.valid), prefix)
    if not groups:
        return
    for group, future in admin.delete_consumer_groups(
        groups, request_timeout=timeout_s
    ).items():
        try:
            future.result()
            removed.groups.append(group)
        except Exception as exc:
            removed.failed.append(f"group {group} ({exc})")
