"""The Grafana dashboards of deploy/grafana/ as data for tests: every panel query, made concrete
(Grafana's `$__…` variables replaced) so that promtool or a live Prometheus can run it, the
metric names it reads, and the scrape job it needs (our processes, or one of the JVMs' JMX
exporters: `kafka`, `connect`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmc.infra.settings import PROJECT_ROOT

DASHBOARDS_DIR = PROJECT_ROOT / "deploy" / "grafana"
DATASOURCE = "${DS_PROMETHEUS}"
"""The one datasource reference panels may use: the import input / dashboard variable."""

AWAITING_EXPORT: dict[str, str] = {}
"""Metrics a panel reads before any process of main exports them: the live test checks those
panels only once the series exist; docs/operating/monitoring.md lists them as follow-ups."""

_GRAFANA_VARS = re.compile(r"\$(?:\{(__\w+)\}|(__\w+))")
_METRIC = re.compile(r"(?<![\w:\"'])(nmc_[a-z0-9_]*[a-z0-9])\b")
_RECORDED = re.compile(r"(?<![\w\"'])(nmc:[a-z0-9_:]+)")
_NAME_MATCHER = re.compile(r"__name__\s*=~\s*\"([^\"]+)\"")
_JVM_METRIC = re.compile(r"(?<![\w:\"'])((?:kafka|jvm|process)_[a-z0-9_]*[a-z0-9])\b")
_JOB = re.compile(r"\bjob\s*=\s*\"([^\"]+)\"")

JVM_JOBS = ("kafka", "connect")
"""Scrape jobs of the JMX exporter agents (the Kafka nodes, the Connect worker): a query that
reads their series selects exactly one of them, which tells the live tests what it needs."""


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel_id: int
    panel: str
    ref_id: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / panel {self.panel_id} {self.panel!r} / {self.ref_id}: " \
               f"{self.expr}"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, and the panels of collapsed rows (kept inside the row)."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> list[PanelQuery]:
    return [PanelQuery(dashboard["title"], panel["id"], panel.get("title", ""),
                       target.get("refId", ""), target.get("expr", ""))
            for panel in panels(dashboard) for target in panel.get("targets", [])]


def concrete(expr: str, *, rate_interval: str, range_: str) -> str:
    """`expr` as Grafana sends it: `$__rate_interval` / `$__interval` and `$__range` replaced;
    any other variable is refused, so a new one cannot slip past the checks unevaluated."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in ("__rate_interval", "__interval"):
            return rate_interval
        if name == "__range":
            return range_
        raise ValueError(f"unsupported Grafana variable ${name} in {expr!r}")

    out = _GRAFANA_VARS.sub(sub, expr)
    if "$" in out:
        raise ValueError(f"a dashboard variable is left in {expr!r}: only $__rate_interval, "
                         "$__interval and $__range are supported")
    return out


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads by name (`nmc_…`), without the histogram suffixes."""
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in _METRIC.findall(expr)}


def recorded_names(expr: str) -> set[str]:
    """Recording rules (`nmc:…`) an expression reads."""
    return set(_RECORDED.findall(expr))


def name_matchers(expr: str) -> list[str]:
    """Regexes of `{__name__=~"…"}` selectors (e.g. every `nmc_.+_dead_lettered_total`)."""
    return _NAME_MATCHER.findall(expr)


def jvm_metric_names(expr: str) -> set[str]:
    """Series of the JMX exporter agents an expression reads (`kafka_…`, `jvm_…`, `process_…`),
    without the histogram/summary suffixes."""
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in _JVM_METRIC.findall(expr)}


def jvm_job(expr: str) -> str | None:
    """The JMX exporter job (`kafka` / `connect`) an expression selects with `job="…"`, None
    for a query over our own processes' series. A query naming both is refused: no live test
    has both targets."""
    jobs = set(_JOB.findall(expr)) & set(JVM_JOBS)
    if len(jobs) > 1:
        raise ValueError(f"a query reads both {sorted(jobs)}: split it ({expr!r})")
    return jobs.pop() if jobs else None


def jmx_rule_names(rules: dict[str, Any]) -> set[str]:
    """The metric names a JMX exporter rules file (deploy/jmx/*.yml) produces: each rule's
    `name` with its `$n` references expanded over the alternatives of the pattern's n-th
    group (`(Produce|Fetch)` -> both, lower-cased as `lowercaseOutputName` does)."""
    names: set[str] = set()
    for rule in rules["rules"]:
        groups = _capturing_groups(rule["pattern"])
        expanded = [str(rule["name"])]
        for ref in sorted(set(re.findall(r"\$(\d+)", rule["name"]))):
            options = groups[int(ref) - 1].split("|")
            expanded = [n.replace(f"${ref}", o) for n in expanded for o in options]
        names |= {n.lower() if rules.get("lowercaseOutputName") else n for n in expanded}
    return names


def _capturing_groups(pattern: str) -> list[str]:
    """The text of each capturing group of a regex, in order (unnested groups: the rules')."""
    found = []
    for start in (m.end() for m in re.finditer(r"(?<!\\)\((?!\?)", pattern)):
        depth, end = 1, start
        while depth:
            depth += {"(": 1, ")": -1}.get(pattern[end], 0) if pattern[end - 1] != "\\" else 0
            end += 1
        found.append(pattern[start:end - 1])
    return found
