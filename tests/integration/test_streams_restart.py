"""A worker SIGKILLed mid-stream and replaced by one with an empty local directory continues from
the entity states committed with the read models: no count is doubled or lost, and later events
of the same flows build on the state the first worker kept."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from support.settings import PlatformSettings as Settings
from support.streams import (
    IsolatedTopics,
    dump,
    fresh_database,
    history,
    project_in_order,
    start_worker,
    stop_worker,
    wait_for,
)
from support.waits import scaled

from nmc.infra.db import make_engine

pytestmark = pytest.mark.fault  # `make test-stress` runs these under a CPU hog


def _facts(engine, tenants: list[str]) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM rpt_facts WHERE tenant_id::text = ANY(:t)"),
                {"t": tenants},
            ).scalar_one()
        )


def test_sigkill_mid_stream_then_restart(
    stack: Settings, database_url: str, tmp_path: Path
) -> None:
    topics = IsolatedTopics(stack)
    tenants = [str(uuid.uuid4()) for _ in range(4)]
    events = history(7, tenants, 120)
    # every flow is split: its first events before the crash, the rest after the restart
    first = [e for i, e in enumerate(events) if i % 3 != 2]
    later = [e for i, e in enumerate(events) if i % 3 == 2]
    prefix = f"test-kill-{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url)
    common = dict(
        database_url=database_url,
        topic_suffix=topics.suffix,
        app_id_prefix=prefix,
        nmc_home=tmp_path,
        log_path=tmp_path / "reporting.log",
    )
    try:
        with fresh_database(stack) as ref_url:
            reference = make_engine(ref_url)
            project_in_order(reference, "reporting", first)
            partial = _facts(reference, tenants)
            topics.publish(first)
            # the worker kills itself right after committing its 4th batch of 40: a point the
            # test chose, whatever the speed of the machine or of the worker
            worker = start_worker("reporting", worker_id="w1", extra_env={  # type: ignore[arg-type]
                "NMC_STREAMS_BATCH_MAX_EVENTS": "40",
                "NMC_STREAMS_CRASH_AFTER_BATCHES": "4",
                "NMC_STREAMS_CRASH_POINT": "after-commit",
            }, **common)
            try:
                assert worker.wait(scaled(180)) == -signal.SIGKILL, (
                    "the worker did not reach its crash point"
                )
            finally:
                stop_worker(worker)  # a worker that never crashed must not outlive the test
            done = _facts(engine, tenants)
            assert 0 < done < partial, f"{done} of {partial} facts projected at the crash point"

            # a new worker id = an empty local directory: the state must come from PostgreSQL
            worker = start_worker("reporting", worker_id="w2", **common)  # type: ignore[arg-type]
            try:
                topics.publish(later)
                topics.publish(first[:200])  # replayed duplicates change nothing
                project_in_order(
                    reference,
                    "reporting",
                    sorted(events, key=lambda e: (e.occurred_at, str(e.event_id))),
                )
                expected = dump(reference, "reporting", tenants)
                wait_for(
                    lambda: dump(engine, "reporting", tenants) == expected,
                    "read models equal to the uninterrupted history",
                    180,
                )
                assert dump(engine, "reporting", tenants) == expected
                with engine.connect() as conn:
                    daily = conn.execute(
                        text(
                            "SELECT * FROM rpt_daily WHERE tenant_id::text = ANY(:t) ORDER BY 1, 2"
                        ),
                        {"t": tenants},
                    ).all()
                with reference.connect() as conn:
                    ref_daily = conn.execute(
                        text(
                            "SELECT * FROM rpt_daily WHERE tenant_id::text = ANY(:t) ORDER BY 1, 2"
                        ),
                        {"t": tenants},
                    ).all()
                assert daily == ref_daily
            finally:
                stop_worker(worker)
            reference.dispose()
    finally:
        engine.dispose()
        topics.close()
