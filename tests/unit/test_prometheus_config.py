"""The local Prometheus' generated configuration (pure functions; promtool checks the result)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr
from support.settings import PlatformSettings as Settings

from nmc.stack.prometheus_config import (
    PROCESS_JOBS,
    RULES_DIR,
    ProcessPorts,
    ScrapeJob,
    local_jobs,
    prometheus_command,
    render_config,
    render_targets,
    write_targets,
)


def _jobs(settings: Settings, streams_port: int = 0, sender_port: int = 0,
          reactor_port: int = 0) -> dict[str, ScrapeJob]:
    return {job.name: job for job in local_jobs(settings, ProcessPorts(
        relay=settings.nmc_relay_metrics_port, streams=streams_port, sender=sender_port,
        reactor=reactor_port))}


def test_local_jobs_scrape_prometheus_the_registry_and_every_process_job() -> None:
    jobs = _jobs(Settings(nmc_prometheus_port=9500, nmc_registry_port=8181))
    assert jobs["prometheus"].targets == ("127.0.0.1:9500",)
    assert jobs["registry"].targets == ("127.0.0.1:9181",)  # Quarkus management port
    assert set(PROCESS_JOBS) <= set(jobs)
    assert all(jobs[name].file_sd for name in PROCESS_JOBS)


def test_metrics_ports_that_are_set_become_static_targets() -> None:
    jobs = _jobs(Settings(nmc_relay_metrics_port=9400), streams_port=9410, sender_port=9420,
                 reactor_port=9430)
    assert jobs["relay"].targets == ("127.0.0.1:9400",)
    assert jobs["streams"].targets == ("127.0.0.1:9410",)
    assert jobs["sender"].targets == ("127.0.0.1:9420",)
    assert jobs["reactor"].targets == ("127.0.0.1:9430",)
    assert jobs["edge"].targets == ()  # 0 = off: only target files add it


def test_an_external_registry_is_not_scraped() -> None:
    jobs = _jobs(Settings(schema_registry_url="http://registry.example:8081"))
    assert "registry" not in jobs


def test_config_names_rules_and_target_files_with_prometheus_durations(tmp_path: Path) -> None:
    text = render_config(
        [ScrapeJob("relay", ("127.0.0.1:9400",))], rule_files=[Path("/r/alerts.yml")],
        targets_dir=tmp_path, scrape_interval_s=0.5, evaluation_interval_s=15,
    )
    config = json.loads(text)
    assert config["global"] == {"scrape_interval": "500ms", "scrape_timeout": "500ms",
                                "evaluation_interval": "15s"}
    assert config["rule_files"] == ["/r/alerts.yml"]
    (relay,) = config["scrape_configs"]
    assert relay["static_configs"] == [{"targets": ["127.0.0.1:9400"]}]
    assert relay["file_sd_configs"][0]["files"] == [str(tmp_path / "relay*.json")]


def test_target_files_are_file_sd_json_and_only_for_known_jobs(tmp_path: Path) -> None:
    path = write_targets(tmp_path, "edge", "demo-1", ["127.0.0.1:2", "127.0.0.1:1"])
    assert path.name == "edge-demo-1.json"
    assert json.loads(path.read_text()) == [{"targets": ["127.0.0.1:1", "127.0.0.1:2"]}]
    assert json.loads(render_targets(["a:1"], {"app": "x"})) == [
        {"targets": ["a:1"], "labels": {"app": "x"}}]
    with pytest.raises(ValueError, match="unknown scrape job"):
        write_targets(tmp_path, "nope", "x", [])


def test_command_listens_on_loopback_with_reload_enabled(tmp_path: Path) -> None:
    cmd = prometheus_command("/usr/bin/prometheus", config=tmp_path / "p.yml",
                             data=tmp_path / "data", port=9490, retention="7d")
    assert "--web.listen-address=127.0.0.1:9490" in cmd
    assert "--web.enable-lifecycle" in cmd


def test_promtool_accepts_the_generated_configuration(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: scripts/install.sh installs Debian's `prometheus`")
    settings = Settings(nmc_relay_metrics_port=9400, database_url=SecretStr("postgresql://x"))
    config = tmp_path / "prometheus.yml"
    config.write_text(render_config(
        local_jobs(settings, ProcessPorts(relay=9400, streams=9410)),
        rule_files=sorted(RULES_DIR.glob("*.yml")),
        targets_dir=tmp_path / "targets", scrape_interval_s=15, evaluation_interval_s=15))
    proc = subprocess.run([promtool, "check", "config", str(config)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
