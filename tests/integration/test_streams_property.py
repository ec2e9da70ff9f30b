"""Property on the real stack: random cross-topic interleavings with duplicates give the same
read models (whole tables) as the in-order history."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.settings import PlatformSettings as Settings
from support.streams import (
    IsolatedTopics,
    dump,
    fresh_database,
    history,
    project_in_order,
    start_worker,
    stop_worker,
    wait_caught_up,
    wait_for,
)

from nmc.infra.db import make_engine
from nmc.infra.net import free_port

APPS = ("conversation", "scheduling", "reporting")


@pytest.fixture
def topics(stack: Settings) -> Iterator[IsolatedTopics]:
    iso = IsolatedTopics(stack)
    yield iso
    iso.close()


def test_interleavings_with_duplicates_converge(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path
) -> None:
    prefix = f"test-prop-{uuid.uuid4().hex[:8]}"
    workers = [
        start_worker(
            app,
            database_url=database_url,
            topic_suffix=topics.suffix,
            app_id_prefix=prefix,
            nmc_home=tmp_path,
            worker_id=f"{app}-w1",
            log_path=tmp_path / f"{app}.log",
        )
        for app in APPS
    ]
    engine = make_engine(database_url)
    try:
        with fresh_database(stack) as ref_url:
            reference = make_engine(ref_url)

            @settings(
                max_examples=4,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture],
            )
            @given(
                seed=st.integers(0, 1_000_000),
                order=st.randoms(use_true_random=False),
                dup=st.floats(0.0, 0.5),
            )
            def check(seed: int, order: random.Random, dup: float) -> None:
                tenants = [str(uuid.uuid4()) for _ in range(3)]
                events = history(seed, tenants, 4)
                for app in APPS:
                    project_in_order(reference, app, events)
                shuffled = events + [e for e in events if order.random() < dup]
                order.shuffle(shuffled)
                topics.publish(shuffled)
                for app in APPS:
                    expected = dump(reference, app, tenants)
                    assert any(expected.values())
                    # compare only once every record, duplicates included, was acknowledged
                    wait_caught_up(
                        stack,
                        f"{prefix}-{app}",
                        topics.of_app(app),
                        timeout=120,
                    )
                    assert dump(engine, app, tenants) == expected

            check()
            reference.dispose()
    finally:
        for w in workers:
            stop_worker(w)
        engine.dispose()


def test_two_workers_share_the_partitions(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path
) -> None:
    """Two workers of one app split the partitions, both do work, and together they build
    exactly the read models of a single in-order run."""
    import re
    import urllib.request

    tenants = [str(uuid.uuid4()) for _ in range(6)]
    events = history(31, tenants, 30)
    prefix = f"test-scale-{uuid.uuid4().hex[:8]}"
    ports = [free_port(), free_port()]
    workers = [
        start_worker("reporting", database_url=database_url, topic_suffix=topics.suffix,
                     app_id_prefix=prefix, nmc_home=tmp_path, worker_id=f"w{i}",
                     metrics_port=port, log_path=tmp_path / f"w{i}.log",
                     extra_env={"NMC_STREAMS_BATCH_MAX_EVENTS": "20"})
        for i, port in enumerate(ports)
    ]

    def processed(port: int) -> float:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        return sum(float(v) for v in re.findall(
            rb"^nmc_streams_processed_total\{[^}]*\} (\S+)$", body, re.M))

    engine = make_engine(database_url)
    try:
        wait_for(lambda: all(_up(p) for p in ports), "both workers' metrics", 120)
        time.sleep(12)  # one rebalance: both members hold partitions before the load arrives
        topics.publish(events)
        wait_caught_up(stack, f"{prefix}-reporting",
                       topics.of_app("reporting"))
        counts = [processed(p) for p in ports]
        assert all(c > 0 for c in counts) and sum(counts) >= len(events), counts
        with fresh_database(stack) as ref_url:
            reference = make_engine(ref_url)
            project_in_order(reference, "reporting", events)
            expected = dump(reference, "reporting", tenants)
            reference.dispose()
        assert dump(engine, "reporting", tenants) == expected
    finally:
        for w in workers:
            stop_worker(w)
        engine.dispose()


def _up(port: int) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
        return True
    except OSError:
        return False
