"""A demo run's topics, consumer groups and table state are removed at its end — and nothing
else: another run's dead letters and the domain topics stay (real broker)."""

from __future__ import annotations

import uuid
from pathlib import Path

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from support.settings import PlatformSettings as Settings
from support.waits import wait_until

from nmc.demo.cleanup import remove_run
from nmc.infra.consume import end_offsets
from nmc.infra.kafka_clients import admin_config, consumer_config, domain_topics, ensure_topics


def _groups(admin: AdminClient) -> set[str]:
    return {g.group_id for g in admin.list_consumer_groups(request_timeout=30).result().valid}


def _topics(admin: AdminClient) -> set[str]:
    return set(admin.list_topics(timeout=30).topics)


def test_remove_run_deletes_only_what_the_run_created(stack: Settings, tmp_path: Path) -> None:
    run, other = f"nmc-demo-{uuid.uuid4().hex[:8]}", f"nmc-demo-{uuid.uuid4().hex[:8]}"
    mine = [f"nmc.dlq.{run}-conversation", f"nmc.dlq.{run}-reactions",
            f"{run}-conversation-threads-changelog"]
    theirs = [f"nmc.dlq.{other}-conversation"]
    ensure_topics(stack, mine + theirs)
    for group in (f"{run}-conversation", f"{run}-reactions", f"{other}-conversation"):
        consumer = Consumer(consumer_config(stack, group))
        consumer.commit(offsets=end_offsets(stack, ["nmc.telephony"]), asynchronous=False)
        consumer.close()
    state = tmp_path / "streams" / "conversation" / "demo-x"
    state.mkdir(parents=True)
    admin = AdminClient(admin_config(stack))
    try:
        removed = remove_run(stack, run, [state])
        assert not removed.failed, removed.failed
        assert sorted(removed.topics) == sorted(mine)
        assert sorted(removed.groups) == [f"{run}-conversation", f"{run}-reactions"]
        assert removed.dirs == [state] and not state.exists()
        wait_until(lambda: not set(mine) & _topics(admin),  # deletion completes asynchronously
                   "the run's topics to be deleted", 30,
                   explain=lambda: f"still there: {sorted(set(mine) & _topics(admin))}")
        topics = _topics(admin)
        assert set(theirs) <= topics and set(domain_topics()) <= topics
        groups = _groups(admin)
        assert f"{other}-conversation" in groups
        assert not {f"{run}-conversation", f"{run}-reactions"} & groups
    finally:
        remove_run(stack, other)
