"""Issue #22 item 4 on the real stack: `nmc demo --evolve` plays the minor change, the major
window and the retirement, says so, and leaves nothing behind (its topic copy, the copy's
subjects, its consumer groups, its scratch database)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from confluent_kafka.admin import AdminClient
from sqlalchemy import text
from support.settings import PlatformSettings as Settings
from support.waits import wait_until

from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import admin_config
from nmc.schema_gate.registry_api import Registry


def test_demo_evolve_shows_the_three_steps_and_removes_what_it_made(
    stack: Settings, tmp_path: Path,
) -> None:
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=stack.kafka,
               SCHEMA_REGISTRY_URL=stack.registry, DATABASE_URL=stack.database,
               NMC_HOME=str(tmp_path), COLUMNS="400")
    done = subprocess.run([sys.executable, "-m", "nmc.cli", "demo", "--evolve"], env=env,
                          capture_output=True, text=True, timeout=540, check=False)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    found = re.search(r"topic (nmc\.telephony(\.evolve([0-9a-f]{8})))", out)
    assert found, out
    topic, suffix, run = found.groups()
    group = f"nmc-demo-evolve-{run}-v1-reader"
    for line in (
        "gate: registry v1: compatible additive change, minor bump 1.0.0 -> 1.1.0",
        "every record carries its row's version's schema id",
        "the 1.0.0 reader decoded all 8 records",
        "2 facts, each published at v1 then v2: one event_id, one key, one partition",
        "window closed (NMC_DUAL_PUBLISH unset): the next fact is written at v2 only",
        "REFUSED: nmc.telephony.CallDetected major 1 is still needed",
        f"refused while {group} lags, and named it",
        "OK (dry run): nmc.telephony.CallDetected major 1 can be retired",
        "RETIRED: nmc.telephony.CallDetected major 1",
        "a writer still dual-publishing is refused",
        "schema evolution shown",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    # how far behind depends on which partitions the demo's two keys land on
    assert re.search(rf"group {group} is [0-9]+ records behind the last v1 ", out), out
    assert re.search(r"removed 1 topics, [0-9]+ consumer groups, [0-9]+ registry subjects and "
                     r"1 scratch databases of this run\n", out), out

    admin = AdminClient(admin_config(stack))
    wait_until(lambda: topic not in admin.list_topics(timeout=30).topics,
               "the demo's topic copy to be deleted", 30)  # deletion completes asynchronously
    groups = {g.group_id for g in admin.list_consumer_groups(request_timeout=30).result().valid}
    assert not {g for g in groups if g.startswith(f"nmc-demo-evolve-{run}")}
    with Registry(stack.registry) as registry:
        assert not [s for s in registry.subjects(deleted=True) if suffix in s]
    engine = make_engine(stack.database)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"),
                                {"n": f"nmc_evolve_{run}"}).scalar_one() == 0
    finally:
        engine.dispose()
