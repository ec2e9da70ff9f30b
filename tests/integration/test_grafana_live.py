"""Every dashboard panel's query over our processes returns data from a real Prometheus scraping
a demo run (the panels of the Kafka nodes and the Connect worker, jobs `kafka` and `connect`,
are checked against their own targets by test_kafka_metrics.py and test_connect_metrics.py).

One platform start, as `make demo` does it (`LocalPlatform`: relay, reactor, sender, edge, read
API, three stream workers), its target files read by a Prometheus configured as
`nmc stack up --observability` configures the stack's (`local_jobs`, scrape every 0.5 s). Once
every target is up and scraped twice, the demo's story runs through the signed webhooks, then
each query, as Grafana would send it over a range covering the run, must return at least one
finite sample. Panels that read only metrics in `AWAITING_EXPORT` are checked once a process
exports them."""

from __future__ import annotations

import warnings
from pathlib import Path

import httpx
from prometheus_support import PrometheusApi, own_prometheus, wait_panels_have_data
from support.dashboards import (
    AWAITING_EXPORT,
    dashboard_files,
    jvm_job,
    load,
    metric_names,
    queries,
)
from support.settings import PlatformSettings as Settings
from support.waits import wait_until

from nmc.demo.local_platform import STREAM_APPS, LocalPlatform
from nmc.demo.scenario import ProviderSimulator, new_tenant, play, wait_for_story


def _exported(prom: PrometheusApi, name: str) -> bool:
    return bool(prom.query(f'count({{__name__="{name}"}})'))


def _scraped_twice(prom: PrometheusApi, expected: int) -> bool:
    targets = prom.targets()
    if len(targets) < expected or any(t["health"] != "up" for t in targets):
        return False
    counts = {r["metric"]["instance"]: float(r["value"][1])
              for r in prom.query("count_over_time(up[5m])")}
    return all(counts.get(t["labels"]["instance"], 0) >= 2 for t in targets)


def test_every_panel_query_returns_data_for_a_demo_run(
    test_settings: Settings, tmp_path: Path
) -> None:
    found = [q for path in dashboard_files() for q in queries(load(path))
             if jvm_job(q.expr) is None]
    assert found, "no dashboard queries under deploy/grafana"
    with own_prometheus(test_settings, "prometheus-dashboards", None) as prom, \
            LocalPlatform(test_settings, tmp_path / "logs", targets_dir=prom.targets_dir) \
            as platform, httpx.Client(timeout=30) as client:
        # prometheus itself + relay, edge, sender, read API and one per stream worker
        expected = 1 + 4 + len(STREAM_APPS)
        wait_until(lambda: _scraped_twice(prom, expected),
                   f"{expected} targets up and scraped twice", explain=prom.summary)

        story = new_tenant(platform)
        play(ProviderSimulator(platform, client), story, lambda _step: None)
        wait_for_story(platform, story, lambda _what: None, timeout_s=120)

        awaited = {name for name in AWAITING_EXPORT if not _exported(prom, name)}
        checked = [q for q in found if not metric_names(q.expr) & awaited]
        wait_panels_have_data(prom, checked)

    if awaited:
        skipped = [str(q) for q in found if q not in checked]
        warnings.warn(f"not yet checked, {sorted(awaited)} not exported: {skipped}",
                      stacklevel=1)
