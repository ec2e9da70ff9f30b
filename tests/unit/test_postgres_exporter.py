"""The PostgreSQL exporter of `nmc stack up --observability`, without starting it: its
connection, its command line, its scrape job, its queries file against the rules that read it,
and what `NMC_POSTGRES_METRICS_PORT=0` does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from nmc.stack import postgres_exporter
from nmc.stack.layout import Layout
from nmc.stack.postgres_exporter import (
    QUERIES_FILE,
    data_source_name,
    exporter_command,
    listen_port,
)
from nmc.stack.prometheus import targets_dir
from nmc.stack.prometheus_config import (
    POSTGRES_JOB,
    RULES_DIR,
    local_jobs,
    render_config,
    write_targets,
)
from nmc.stack.settings import StackSettings


@pytest.mark.parametrize(("url", "dsn"), [
    ("postgresql+psycopg://nmc:nmc@127.0.0.1:5432/nmc",
     "postgresql://nmc:nmc@127.0.0.1:5432/nmc?sslmode=disable"),
    ("postgresql+psycopg://nmc:nmc@localhost:5433/x?application_name=a",
     "postgresql://nmc:nmc@localhost:5433/x?application_name=a&sslmode=disable"),
    ("postgresql+psycopg://nmc@/nmc?host=/var/run/postgresql",
     "postgresql://nmc@/nmc?host=/var/run/postgresql&sslmode=disable"),
    # an sslmode of the URL is kept; a remote server keeps the driver's default (require)
    ("postgresql+psycopg://nmc:s@127.0.0.1:5432/nmc?sslmode=verify-full",
     "postgresql://nmc:s@127.0.0.1:5432/nmc?sslmode=verify-full"),
    ("postgresql+psycopg://nmc:s@db.example:5432/nmc", "postgresql://nmc:s@db.example:5432/nmc"),
])
def test_data_source_name_is_the_libpq_url_without_tls_only_on_loopback(url: str,
                                                                         dsn: str) -> None:
    assert data_source_name(url) == dsn


def test_command_listens_on_loopback_with_the_shipped_queries_and_no_password() -> None:
    cmd = exporter_command("/usr/bin/prometheus-postgres-exporter", port=9187,
                           queries=QUERIES_FILE)
    assert cmd == ["/usr/bin/prometheus-postgres-exporter",
                   "--web.listen-address=127.0.0.1:9187",
                   f"--extend.query-path={QUERIES_FILE}"]
    assert listen_port(cmd) == 9187
    assert listen_port(["/usr/bin/prometheus-postgres-exporter"]) is None


def test_job_postgres_is_scraped_from_its_target_file_only(tmp_path: Path) -> None:
    """No static target: a stack without a running exporter has no target that is down."""
    jobs = {job.name: job for job in local_jobs(StackSettings(nmc_postgres_metrics_port=9187))}
    assert jobs[POSTGRES_JOB].targets == ()
    assert jobs[POSTGRES_JOB].file_sd
    config = json.loads(render_config(jobs.values(), rule_files=[], targets_dir=tmp_path,
                                      scrape_interval_s=15, evaluation_interval_s=15))
    (entry,) = [c for c in config["scrape_configs"] if c["job_name"] == POSTGRES_JOB]
    assert entry["file_sd_configs"][0]["files"] == [str(tmp_path / "postgres*.json")]
    assert "static_configs" not in entry
    path = write_targets(tmp_path, POSTGRES_JOB, "stack", ["127.0.0.1:9187"])
    assert json.loads(path.read_text()) == [{"targets": ["127.0.0.1:9187"]}]


def _exported_by_queries() -> set[str]:
    """Series names the exporter makes of the queries file: `<key>_<column>` per GAUGE or
    COUNTER column."""
    doc = yaml.safe_load(QUERIES_FILE.read_text())
    return {f"{key}_{column}"
            for key, query in doc.items()
            for metric in query["metrics"]
            for column, spec in metric.items()
            if spec["usage"] in ("GAUGE", "COUNTER")}


def test_queries_file_defines_the_replication_slot_series_the_rules_read() -> None:
    doc = yaml.safe_load(QUERIES_FILE.read_text())
    slots = doc["pg_replication_slots"]
    columns = {column: spec["usage"] for m in slots["metrics"] for column, spec in m.items()}
    assert columns["slot_name"] == "LABEL"
    assert columns["pg_wal_lsn_diff"] == "GAUGE"
    assert "restart_lsn" in slots["query"]
    read = {name for path in RULES_DIR.glob("*.yml")
            for name in re.findall(r"\bpg_[a-z0-9_]+", path.read_text())
            if not name.startswith("pg_drop")}  # runbook SQL in annotations
    assert read, "no rule reads the exporter's series"
    assert read <= _exported_by_queries(), read - _exported_by_queries()


def test_port_0_starts_nothing_and_drops_a_stale_target_file(tmp_path: Path) -> None:
    settings = StackSettings(nmc_home=tmp_path, nmc_postgres_metrics_port=0)
    layout = Layout.of(settings)
    stale = write_targets(targets_dir(layout), POSTGRES_JOB, "stack", ["127.0.0.1:9187"])
    said: list[str] = []
    assert postgres_exporter.start(settings, layout, said.append) is None
    assert not stale.exists()
    row = postgres_exporter.status_row(settings, layout)
    assert (row.name, row.state, row.detail) == ("postgres-exporter", "stopped",
                                                 "off (NMC_POSTGRES_METRICS_PORT=0)")
    on = postgres_exporter.status_row(StackSettings(nmc_home=tmp_path), layout)
    assert (on.address, on.detail) == ("127.0.0.1:9187", "up --observability")
