"""`nmc worker rebuild`: read models rebuilt from the topics equal the live ones, row for row,
and swap in atomically while the live worker keeps projecting new events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text
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
)

from nmc.infra.db import make_engine
from nmc_streams.apps import APPS
from nmc_streams.rebuild import rebuild, schema_engine
from nmc_streams.settings import StreamSettings


@pytest.mark.parametrize("app", ["conversation", "reporting"])
def test_rebuilt_models_equal_the_live_ones_and_swap_in_under_load(
    stack: Settings, database_url: str, tmp_path: Path, app: str
) -> None:
    topics = IsolatedTopics(stack)
    tenants = [str(uuid.uuid4()) for _ in range(3)]
    events = history(29, tenants, 12)
    wanted = set(APPS[app].domains)
    first, later = events[: len(events) // 2], events[len(events) // 2:]
    prefix = f"test-rebuild-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-{app}"
    sources = [f"nmc.{d}{topics.suffix}" for d in APPS[app].domains]
    platform = stack.model_copy(update={"database_url": SecretStr(database_url)})
    streams = StreamSettings(topic_suffix=topics.suffix, app_id_prefix=prefix,
                             retry_base_s=0.05, retry_max_s=0.5)
    engine = make_engine(database_url)
    worker = start_worker(app, database_url=database_url, topic_suffix=topics.suffix,
                          app_id_prefix=prefix, nmc_home=tmp_path, worker_id="w1",
                          log_path=tmp_path / f"{app}.log")
    try:
        topics.publish(first)
        wait_caught_up(stack, group, sources)
        live = dump(engine, app, tenants)
        assert sum(len(rows) for rows in live.values()) > 0

        # 1. built beside the live models by the command line, not swapped: equal to them,
        # row for row
        env = {**os.environ, "DATABASE_URL": database_url,
               "NMC_STREAMS_TOPIC_SUFFIX": topics.suffix, "NMC_STREAMS_APP_ID_PREFIX": prefix}
        done = subprocess.run([sys.executable, "-m", "nmc.cli", "worker", "rebuild", app,
                               "--no-swap", "--json"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        built = json.loads(done.stdout)
        assert not built["swapped"] and built["dead_letters"] == 0
        assert built["events"] == sum(1 for e in first if e.domain in wanted)
        assert built["schema"].startswith(f"nmc_rebuild_{app}_")
        side = schema_engine(database_url, built["schema"])
        try:
            assert dump(side, app, tenants) == live
        finally:
            side.dispose()
        assert dump(engine, app, tenants) == live  # the live models untouched

        # 2. rebuilt and swapped while new events keep arriving for the live worker
        writer = threading.Thread(target=topics.publish, args=(later,))
        writer.start()
        result = rebuild(app, platform, streams, progress=lambda done, lag: None,
                         operator="tester", catch_up_s=60)
        writer.join()
        assert result.swapped
        wait_caught_up(stack, group, sources)
        with fresh_database(stack) as ref_url:
            reference = make_engine(ref_url)
            project_in_order(reference, app, events)
            expected = dump(reference, app, tenants)
            with reference.connect() as conn:
                expected_daily = conn.execute(text(
                    "SELECT * FROM rpt_daily WHERE tenant_id::text = ANY(:t) ORDER BY 1, 2"),
                    {"t": tenants}).all()
            reference.dispose()
        assert dump(engine, app, tenants) == expected
        with engine.connect() as conn:
            recorded = conn.execute(text(
                "SELECT app, group_id, retired_schema, swapped_by FROM stream_rebuilds")).all()
            retired_tables = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                {"s": result.plan.retired}).scalar_one()
            daily = conn.execute(text(  # the views read the swapped-in tables
                "SELECT * FROM rpt_daily WHERE tenant_id::text = ANY(:t) ORDER BY 1, 2"),
                {"t": tenants}).all()
            schemas = conn.execute(text(
                "SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
                {"s": result.plan.schema}).scalar_one()
        assert recorded == [(app, result.plan.group, result.plan.retired, "tester")]
        assert retired_tables == len(expected) + 1  # the old models and their stream_state
        assert schemas == 0  # the rebuild schema is gone: its tables are the live ones now
        if app == "reporting":
            assert daily == expected_daily and daily
        if app == "conversation":
            assert_read_versions_follow_the_swapped_in_tables(engine, tenants)
    finally:
        stop_worker(worker)
        engine.dispose()
        topics.close()


def assert_read_versions_follow_the_swapped_in_tables(engine: Engine, tenants: list[str]) -> None:
    """The read API's freshness check (rm0005) survives the swap: the swapped-in tables carry
    the read-version triggers again (`LIKE` copies none), so a change to them still moves the
    tenant's version; every tenant with conversations has one."""
    with engine.begin() as conn:
        triggers = conn.execute(text(
            "SELECT c.relname, count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            " AND t.tgname LIKE 'nmc_read_versions_%' AND c.relname LIKE 'conv_%'"
            " GROUP BY 1 ORDER BY 1")).all()
        versions = dict(conn.execute(text(
            "SELECT tenant_id::text, version FROM read_versions WHERE scope = 'conversations'"
            " AND tenant_id::text = ANY(:t)"), {"t": tenants}).all())
        owners = set(conn.execute(text(
            "SELECT DISTINCT tenant_id::text FROM conv_conversations"
            " WHERE tenant_id::text = ANY(:t)"), {"t": tenants}).scalars())
    assert triggers == [("conv_conversations", 4), ("conv_messages", 4),
                        ("conversation_reactions", 4)]
    assert owners and owners <= set(versions)
    tenant = sorted(owners)[0]
    with engine.begin() as conn:
        conn.execute(text("UPDATE conv_conversations SET message_count = message_count + 1"
                          " WHERE tenant_id::text = :t"), {"t": tenant})
        moved = conn.execute(text("SELECT version FROM read_versions WHERE scope = "
                                  "'conversations' AND tenant_id::text = :t"),
                             {"t": tenant}).scalar_one()
    assert moved != versions[tenant]
