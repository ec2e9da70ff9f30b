"""A Prometheus of its own for a test, beside the running stack: own home (`.nmc-test/<name>`),
own port, fresh data, the project's rules with their `for:` shortened, stopped afterwards."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from support.dashboards import PanelQuery, concrete
from support.settings import PlatformSettings as Settings
from support.waits import scaled, wait_until, watch_log

from nmc.infra.net import free_port
from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import pidfile, prometheus
from nmc.stack.layout import Layout
from nmc.stack.procs import stop
from nmc.stack.prometheus_config import RULES_DIR, ProcessPorts, ScrapeJob, local_jobs
from nmc.stack.wait import until_healthy


def shortened_rules(folder: Path, for_s: float) -> list[Path]:
    """Copies of deploy/prometheus/rules/*.yml with every `for:` set to `for_s` (test only:
    the shipped durations would make a test wait minutes)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = f"{round(for_s * 1000)}ms"
        copy = folder / path.name
        copy.write_text(yaml.safe_dump(doc, sort_keys=False))
        out.append(copy)
    return out


@dataclass(frozen=True)
class PrometheusApi:
    url: str
    targets_dir: Path
    """Where `file_sd` target files for this Prometheus go (`LocalPlatform(targets_dir=...)`)."""

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        response.raise_for_status()
        return list(response.json()["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (a resolved alert is no longer listed)."""
        response = httpx.get(f"{self.url}/api/v1/alerts", timeout=10)
        response.raise_for_status()
        return list(response.json()["data"]["alerts"])

    def alert_state(self, name: str, **labels: str) -> str | None:
        for alert in self.alerts():
            got = alert["labels"]
            if got.get("alertname") == name and all(got.get(k) == v for k, v in labels.items()):
                return str(alert["state"])
        return None

    def rule_names(self) -> set[str]:
        response = httpx.get(f"{self.url}/api/v1/rules", timeout=10)
        response.raise_for_status()
        return {rule["name"] for group in response.json()["data"]["groups"]
                for rule in group["rules"]}

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets (`labels`, `scrapeUrl`, `health`, `lastError`, ...)."""
        response = httpx.get(f"{self.url}/api/v1/targets", timeout=10)
        response.raise_for_status()
        return list(response.json()["data"]["activeTargets"])

    def summary(self) -> str:
        """What a failed wait shows: targets' health and every pending/firing alert."""
        targets = [(t["labels"]["job"], t["scrapeUrl"], t["health"], t["lastError"])
                   for t in self.targets()]
        alerts = [(a["labels"]["alertname"], a["state"]) for a in self.alerts()]
        return f"targets {targets}; alerts {alerts}"


DASHBOARD_WINDOW = "5m"  # longer than a test: a rate over it sees every sample of its Prometheus


def panel_problem(prom: PrometheusApi, query: PanelQuery) -> str | None:
    """Why the query's answer, as Grafana would send it over a range covering the test, would
    draw nothing; None when it has at least one finite sample."""
    result = prom.query(concrete(query.expr, rate_interval=DASHBOARD_WINDOW,
                                 range_=DASHBOARD_WINDOW))
    if not result:
        return "no series"
    if not any(math.isfinite(float(r["value"][1])) for r in result):
        return f"only NaN/Inf ({len(result)} series)"
    return None


def wait_panels_have_data(prom: PrometheusApi, found: Sequence[PanelQuery]) -> None:
    """Wait until every query in `found` returns data; a failure names each panel and query
    still without data, and why."""
    assert found, "no dashboard queries to check"
    problems: dict[PanelQuery, str] = {}

    def all_have_data() -> bool:
        problems.clear()
        for query in found:
            problem = panel_problem(prom, query)
            if problem is not None:
                problems[query] = problem
        return not problems

    wait_until(all_have_data, f"the {len(found)} dashboard queries to return data",
               explain=lambda: "\n".join(f"{q}: {why}" for q, why in problems.items())
               + "\n" + prom.summary())


@contextmanager
def own_prometheus(base: Settings, name: str, jobs: Sequence[ScrapeJob] | None, *,
                    interval_s: float = 0.5, for_s: float = 1.0) -> Iterator[PrometheusApi]:
    """`jobs` None: the stack's own scrape jobs (`local_jobs`), processes added by target files
    in `PrometheusApi.targets_dir`, as `nmc stack up --observability` configures them."""
    home = PROJECT_ROOT / ".nmc-test" / name
    settings = base.model_copy(update={
        "nmc_home": home, "nmc_prometheus_port": free_port(),
        "nmc_prometheus_scrape_interval_s": interval_s,
    })
    layout = Layout.of(settings)
    layout.ensure_dirs()
    shutil.rmtree(prometheus.home(layout) / "data", ignore_errors=True)  # fresh samples
    shutil.rmtree(prometheus.targets_dir(layout), ignore_errors=True)  # no earlier run's files
    rules = shortened_rules(prometheus.home(layout) / "rules", for_s)
    config = prometheus.write_config(
        settings, layout, jobs=jobs if jobs is not None else local_jobs(settings, ProcessPorts(
            relay=settings.nmc_relay_metrics_port)),
        rule_files=rules)
    watch_log(layout.log(prometheus.NAME))
    say = Console(stderr=True).print
    started = time.monotonic()
    job = prometheus.start(settings, layout, say, config)
    try:
        until_healthy(job, scaled(60), say, started)
        yield PrometheusApi(prometheus.url(settings), prometheus.targets_dir(layout))
    finally:
        record = pidfile.read(layout.pidfile(prometheus.NAME))
        if record is not None:
            stop(record, 30)
            pidfile.remove(layout.pidfile(prometheus.NAME))
