"""Prometheus (Debian's binary) beside the local stack: `nmc stack up --observability`.

Its configuration is generated (`prometheus_config`) under `<nmc_home>/prometheus/` on every
`up`; one already running is told to reload it (`/-/reload`) instead of being restarted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx

from nmc.stack import pidfile
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.model import Say, ServiceName, Starting
from nmc.stack.procs import require_free, require_tool, spawn_detached
from nmc.stack.prometheus_config import (
    NO_PORTS,
    RULES_DIR,
    ProcessPorts,
    ScrapeJob,
    local_jobs,
    prometheus_command,
    render_config,
)
from nmc.stack.settings import StackSettings

NAME: ServiceName = "prometheus"


def home(layout: Layout) -> Path:
    return layout.home / "prometheus"


def targets_dir(layout: Layout) -> Path:
    """Where `file_sd` target files go (`prometheus_config.write_targets`)."""
    return home(layout) / "targets"


def url(settings: StackSettings) -> str:
    return f"http://127.0.0.1:{settings.nmc_prometheus_port}"


def ready(settings: StackSettings, timeout_s: float = 2.0) -> bool:
    """`/-/ready` answers 200: configuration and rules loaded, serving queries."""
    try:
        return httpx.get(f"{url(settings)}/-/ready", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def write_config(
    settings: StackSettings,
    layout: Layout,
    *,
    ports: ProcessPorts = NO_PORTS,
    jobs: Sequence[ScrapeJob] | None = None,
    rule_files: Sequence[Path] | None = None,
    evaluation_interval_s: float | None = None,
) -> Path:
    """Render prometheus.yml for this stack: `ports` are the processes' static targets (tests
    pass their own jobs, rules and interval)."""
    folder = home(layout)
    folder.mkdir(parents=True, exist_ok=True)
    targets_dir(layout).mkdir(exist_ok=True)
    config = folder / "prometheus.yml"
    interval = settings.nmc_prometheus_scrape_interval_s
    config.write_text(render_config(
        jobs if jobs is not None else local_jobs(settings, ports),
        rule_files=rule_files if rule_files is not None else sorted(RULES_DIR.glob("*.yml")),
        targets_dir=targets_dir(layout),
        scrape_interval_s=interval,
        evaluation_interval_s=evaluation_interval_s or interval,
    ))
    return config


def start(settings: StackSettings, layout: Layout, say: Say, config: Path) -> Starting:
    """Launch Prometheus on `config`; or reload the one already running."""
    record = pidfile.read(layout.pidfile(NAME))
    if record is not None and pidfile.is_alive(record):
        say(f"prometheus already running (pid {record.pid}): reloading its configuration")
        _reload(settings)
        return _job(settings, layout, record)
    pidfile.remove(layout.pidfile(NAME))
    binary = require_tool(NAME, "prometheus", "scripts/install.sh: apt-get install prometheus")
    require_free(NAME, [settings.nmc_prometheus_port])
    say(f"starting prometheus on {url(settings)}...")
    data = home(layout) / "data"
    data.mkdir(parents=True, exist_ok=True)
    cmd = prometheus_command(binary, config=config, data=data,
                             port=settings.nmc_prometheus_port,
                             retention=settings.nmc_prometheus_retention)
    popen = spawn_detached(cmd, out=layout.log(NAME), cwd=home(layout))
    record = pidfile.record_for(popen.pid)
    pidfile.write(layout.pidfile(NAME), record)
    job = _job(settings, layout, record)
    job.popen = popen
    return job


def _job(settings: StackSettings, layout: Layout, record: pidfile.PidRecord) -> Starting:
    return Starting(name=NAME, record=record, healthy=lambda: ready(settings),
                    logs=(layout.log(NAME),))


def _reload(settings: StackSettings) -> None:
    try:
        response = httpx.post(f"{url(settings)}/-/reload", timeout=10)
    except httpx.HTTPError as exc:
        raise StackError(NAME, f"reload failed: {exc}") from exc
    if response.status_code != 200:
        raise StackError(NAME, f"reload refused ({response.status_code}): "
                         f"{response.text.strip()[:300]}")
