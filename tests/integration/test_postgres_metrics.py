"""The PostgreSQL exporter (`NMC_POSTGRES_METRICS_PORT`, queries
deploy/prometheus/postgres-queries.yml): started the way `nmc stack up --observability` starts
it (`postgres_exporter.start`, on a port of the test's own, on the test's database), it names
itself in job `postgres`'s target file, and a Prometheus configured as the stack's
(`local_jobs`) returns, through its own API, the WAL a logical replication slot on that
database retains: `pg_replication_slots_pg_wal_lsn_diff{slot_name=...} > 0`, the series that
NmcReplicationSlotPinningWal reads. The slot is dropped after."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from prometheus_support import own_prometheus
from rich.console import Console
from sqlalchemy import make_url
from support.settings import PlatformSettings as Settings
from support.waits import scaled, wait_until, watch_log

from nmc.infra.net import free_port
from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import postgres_exporter
from nmc.stack.layout import Layout
from nmc.stack.prometheus import targets_dir
from nmc.stack.render import libpq_url
from nmc.stack.wait import until_healthy

NAME = "prometheus-postgres"
WAL_ROWS = 20_000  # ~2.5 MB of WAL after the slot's restart_lsn


@dataclass(frozen=True)
class Slot:
    name: str
    database: str


@pytest.fixture
def replication_slot(stack: Settings, database_url: str) -> Iterator[Slot]:
    """A logical slot on the test's database, made as the local stack's superuser over its
    socket (creating a slot needs REPLICATION, which the application role has not); dropped
    after, before the database is."""
    socket_dir = Layout.of(stack).pg_socket_dir
    if not socket_dir.exists():
        pytest.skip("DATABASE_URL is not the local stack's PostgreSQL: a replication slot needs "
                    f"its superuser socket ({socket_dir}); run it on `nmc stack up`")
    database = str(make_url(database_url).database)
    slot = Slot(f"nmc_test_{uuid.uuid4().hex[:12]}", database)

    def superuser() -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host=str(socket_dir), port=stack.nmc_postgres_port,
                               user="postgres", dbname=database, autocommit=True)

    with superuser() as conn:
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot.name,))
    try:
        yield slot
    finally:
        with superuser() as conn:
            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                         " WHERE slot_name = %s", (slot.name,))


def _retained_bytes(database_url: str, slot: Slot) -> float:
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)"
                           " FROM pg_replication_slots WHERE slot_name = %s",
                           (slot.name,)).fetchone()
    assert row is not None, f"slot {slot.name} not found"
    return float(row[0])


def test_a_replication_slot_pinning_wal_shows_in_prometheus_through_job_postgres(
    stack: Settings, test_settings: Settings, database_url: str, replication_slot: Slot
) -> None:
    # WAL written after the slot was made: the slot (which nothing consumes) retains it
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE wal_filler AS SELECT g, repeat('x', 100) AS pad"
                     f" FROM generate_series(1, {WAL_ROWS}) AS g")
    retained = _retained_bytes(database_url, replication_slot)
    assert retained > 0

    home = PROJECT_ROOT / ".nmc-test" / NAME
    with own_prometheus(stack, NAME, None) as prom:  # the stack's jobs: `postgres` included
        settings = test_settings.model_copy(update={  # the test's database
            "nmc_home": home, "nmc_postgres_metrics_port": free_port()})
        layout = Layout.of(settings)
        assert targets_dir(layout) == prom.targets_dir
        watch_log(layout.log(postgres_exporter.NAME))
        say = Console(stderr=True).print
        started = time.monotonic()
        job = postgres_exporter.start(settings, layout, say)
        assert job is not None
        try:
            until_healthy(job, scaled(60), say, started)
            target_file = prom.targets_dir / "postgres-stack.json"
            assert target_file.exists(), "the exporter is not in job postgres"

            selector = (f'pg_replication_slots_pg_wal_lsn_diff{{job="postgres",'
                        f'slot_name="{replication_slot.name}"}}')
            found: list[dict[str, object]] = []

            def scraped() -> bool:
                found[:] = prom.query(f"{selector} > 0")
                return bool(found)

            wait_until(scraped, f"{selector} > 0 through Prometheus' API",
                       explain=prom.summary)
            (series,) = found
            labels = series["metric"]
            assert isinstance(labels, dict)
            assert labels["database"] == replication_slot.database
            assert labels["slot_type"] == "logical"
            assert labels["instance"] == postgres_exporter.target(
                settings.nmc_postgres_metrics_port)
            value = series["value"]
            assert isinstance(value, list)
            assert float(value[1]) >= retained  # the slot holds at least what was written
            assert prom.query(f'pg_replication_slots_active{{slot_name='
                              f'"{replication_slot.name}"}} == 0')
            assert "NmcReplicationSlotPinningWal" in prom.rule_names()
        finally:
            postgres_exporter.stop_exporter(layout, say)
        assert not (prom.targets_dir / "postgres-stack.json").exists()
