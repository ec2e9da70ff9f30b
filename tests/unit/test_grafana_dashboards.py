"""The Grafana dashboards in deploy/grafana/ are importable anywhere and read only what exists:
one datasource input/variable, unique panel ids, every query parsed by promtool, every metric
exported by a process of ours (or listed as awaiting export) or by the JMX exporter rules of
deploy/jmx/, and every recording rule defined. Whether the queries return data is the live
tests' part: tests/integration/test_grafana_live.py for our processes, test_kafka_metrics.py
(job `kafka`) and test_connect_metrics.py (job `connect`) for the JVMs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import create_engine
from support.dashboards import (
    AWAITING_EXPORT,
    DATASOURCE,
    JVM_JOBS,
    concrete,
    dashboard_files,
    jmx_rule_names,
    jvm_job,
    jvm_metric_names,
    load,
    metric_names,
    name_matchers,
    panels,
    queries,
    recorded_names,
)

from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import render
from nmc.stack.prometheus_config import RULES_DIR
from nmc_streams.api.app import create_app, make_database
from nmc_streams.api.settings import ApiSettings
from nmc_streams.metrics import StreamMetrics
from producers.conversation.reactions.metrics import ReactorMetrics
from producers.edges.app import create_edge_app
from producers.edges.settings import EdgeSettings
from producers.relay.metrics import RelayMetrics
from producers.sender.metrics import SenderMetrics

FILES = dashboard_files()
SUFFIX = {"counter": "_total", "histogram": "", "gauge": "", "summary": ""}
JMX_RULES = {"kafka": "kafka-broker.yml", "connect": "kafka-connect.yml"}
AGENT_JVM_SERIES = {"jvm_memory_used_bytes", "jvm_memory_max_bytes", "jvm_gc_collection_seconds"}
"""What the dashboards read of the series the JMX exporter agent adds on its own (its JVM
collectors, not the rules): the kafka and connect live tests show them scraped."""


def _exported_names() -> set[str]:
    """What our processes' registries expose, as a query names it (counters with `_total`,
    histograms by their base name): the registries are built as the processes build them."""
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    edge = create_edge_app(EdgeSettings(
        public_base_url="http://edge.test", twilio_auth_token=SecretStr("t" * 32),
        stripe_webhook_secret=SecretStr("whsec_test"), jwt_secret=SecretStr("j" * 32),
    ), engine)
    api_settings = ApiSettings(jwt_secret=SecretStr("unit-test-secret-0123456789abcdef-0123"))
    api = create_app(api_settings, database=make_database(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", api_settings))
    registries: list[CollectorRegistry] = [
        RelayMetrics().registry, SenderMetrics().registry, StreamMetrics("app").registry,
        ReactorMetrics().registry,
        edge.state.metrics.registry, api.state.metrics.registry,
    ]
    engine.dispose()
    return {family.name + SUFFIX.get(family.type, "")
            for registry in registries for family in registry.collect()}


def _recording_rules() -> set[str]:
    return {rule["record"] for path in RULES_DIR.glob("*.yml")
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "record" in rule}


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return _exported_names()


def test_there_are_the_pipeline_and_the_kafka_connect_dashboards() -> None:
    titles = {load(path)["title"] for path in FILES}
    assert {"NMC pipeline", "NMC Kafka and Connect"} <= titles, f"dashboards: {sorted(titles)}"
    assert len({load(path)["uid"] for path in FILES}) == len(FILES), "one uid per dashboard"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_structure_imports_into_any_grafana(path: Path) -> None:
    doc = load(path)
    assert doc["schemaVersion"] >= 38, "Grafana 10 schema (38+)"
    assert doc.get("uid") and doc.get("title")
    assert [i["name"] for i in doc["__inputs"]] == ["DS_PROMETHEUS"], \
        "one import input, DS_PROMETHEUS, so an import asks for your Prometheus"
    [variable] = [v for v in doc["templating"]["list"] if v["type"] == "datasource"]
    assert (variable["name"], variable["query"]) == ("DS_PROMETHEUS", "prometheus"), \
        "a datasource variable DS_PROMETHEUS, so a provisioned copy works without an import"

    ids = [panel["id"] for panel in panels(doc)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
    for panel in panels(doc):
        if panel["type"] == "row":
            continue
        where = f"panel {panel['id']} {panel.get('title')!r}"
        assert panel.get("title") and panel.get("targets"), f"{where}: a title and queries"
        assert panel["datasource"]["uid"] == DATASOURCE, where
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"{where}: duplicate refIds {refs}"
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"{where} / {target['refId']}: no expr"
            assert target["datasource"]["uid"] == DATASOURCE, f"{where} / {target['refId']}"
    # no datasource chosen by hand anywhere (a uid of someone's Grafana would break imports)
    assert set(re.findall(r'"uid":\s*"([^"]*)"', path.read_text())) <= {DATASOURCE, doc["uid"]}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_panels_do_not_overlap(path: Path) -> None:
    taken: dict[tuple[int, int], int] = {}
    for panel in load(path)["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"panel {panel['id']} is wider than the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, \
                    f"panels {taken[(x, y)]} and {panel['id']} overlap at {(x, y)}"
                taken[(x, y)] = panel["id"]


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    """Each query (variables made concrete) as a recording rule: `promtool check rules` parses
    them all and names the one it cannot."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: scripts/install.sh installs Debian's `prometheus`")
    found = [q for path in FILES for q in queries(load(path))]
    assert found, "no panel queries"
    rules: list[dict[str, Any]] = [
        {"record": f"dashboard:panel_{q.panel_id}_{q.ref_id}",
         "expr": concrete(q.expr, rate_interval="1m", range_="1h")} for q in found]
    rule_file = tmp_path / "dashboard-queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    proc = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True,
                          text=True, check=False)
    said = proc.stdout + proc.stderr
    named = "\n".join(str(q) for q, rule in zip(found, rules, strict=True)
                      if f'"{rule["record"]}"' in said)
    assert proc.returncode == 0, f"{said}\nthe panels promtool refused:\n{named}"


def test_every_metric_a_query_reads_is_exported(exported: set[str]) -> None:
    recorded = _recording_rules()
    missing = []
    for path in FILES:
        for q in queries(load(path)):
            for name in metric_names(q.expr) - exported - set(AWAITING_EXPORT):
                missing.append(f"{name} ({q})")
            for name in recorded_names(q.expr) - recorded:
                missing.append(f"recording rule {name} ({q})")
            for pattern in name_matchers(q.expr):
                if not any(re.fullmatch(pattern, name) for name in exported):
                    missing.append(f"nothing matches {pattern!r} ({q})")
    assert missing == [], "queries read what no process exports:\n" + "\n".join(missing)


def test_every_jvm_query_selects_its_job_and_reads_what_its_agent_exports() -> None:
    """A query over the JMX exporters' series names its job (`kafka` or `connect`), which tells
    the live tests whose target it needs; each series it reads comes from that job's rules
    file or is one of the agent's own JVM series."""
    exported = {job: jmx_rule_names(yaml.safe_load((render.JMX_RULES_DIR / name).read_text()))
                for job, name in JMX_RULES.items()}
    assert set(JMX_RULES) == set(JVM_JOBS)
    wrong = []
    jobs_read = set()
    for path in FILES:
        for q in queries(load(path)):
            names, job = jvm_metric_names(q.expr), jvm_job(q.expr)
            if job is None:
                if names:
                    wrong.append(f"reads {sorted(names)} without job=\"kafka|connect\" ({q})")
                continue
            jobs_read.add(job)
            if metric_names(q.expr):
                wrong.append(f"mixes our processes' series with job {job} ({q})")
            for name in names - exported[job] - AGENT_JVM_SERIES:
                wrong.append(f"{name}: not in deploy/jmx/{JMX_RULES[job]} ({q})")
    assert wrong == [], "\n".join(wrong)
    assert jobs_read == set(JVM_JOBS), "a Kafka and a Connect part"


def test_the_metrics_tables_name_every_series_exported(exported: set[str]) -> None:
    """docs/operating/monitoring.md's metrics tables list every series of our processes, of the
    JMX rules and of the agent's JVM collectors that the dashboards read, and nothing else."""
    doc = (PROJECT_ROOT / "docs" / "operating" / "monitoring.md").read_text(encoding="utf-8")
    metrics = doc[doc.index("\n## Metrics"):doc.index("\n## Alerts")]
    documented = {name for row in re.findall(r"^\| (`[^|]+`) \|", metrics, flags=re.MULTILINE)
                  for name in re.findall(r"`([a-z_]+)`", row)}
    jmx = {name for rules in JMX_RULES.values()
           for name in jmx_rule_names(yaml.safe_load((render.JMX_RULES_DIR / rules).read_text()))}
    assert exported - documented == set(), "exported, not in the metrics table"
    assert jmx - documented == set(), "in deploy/jmx, not in the metrics table"
    assert documented - exported - jmx - AGENT_JVM_SERIES == set(), "documented, not exported"


def test_jmx_rule_names_expand_the_patterns_groups() -> None:
    rules = {"lowercaseOutputName": True, "rules": [
        {"pattern": "k<type=(A|B), topic=(.+)><>(?:x|y)(Count|Mean)", "name": "k_$1_$3",
         "labels": {"topic": "$2"}},
        {"pattern": "k<type=C><>Value", "name": "k_c"}]}
    assert jmx_rule_names(rules) == {"k_a_count", "k_a_mean", "k_b_count", "k_b_mean", "k_c"}
    assert jvm_job('sum(up{job="kafka"})') == "kafka"
    assert jvm_job('sum(up{job=~"relay|streams"})') is None
    with pytest.raises(ValueError, match="both"):
        jvm_job('up{job="kafka"} + up{job="connect"}')
    assert jvm_metric_names('rate(jvm_gc_collection_seconds_sum{job="kafka"}[1m])') == {
        "jvm_gc_collection_seconds"}


def test_awaiting_export_is_still_awaited(exported: set[str]) -> None:
    """Once a metric is exported it leaves AWAITING_EXPORT: the live test then checks its
    panels strictly (and docs/operating/monitoring.md drops it from the follow-ups)."""
    assert set(AWAITING_EXPORT) & exported == set()
    used = {name for path in FILES for q in queries(load(path)) for name in metric_names(q.expr)}
    assert set(AWAITING_EXPORT) <= used, "AWAITING_EXPORT names a metric no panel reads"


def test_query_helpers() -> None:
    expr = ('sum by (job) (increase({__name__=~"nmc_.+_dead_lettered_total"}[$__rate_interval]))'
            ' + histogram_quantile(0.5, rate(nmc_api_request_duration_seconds_bucket'
            '{route!="/x",status="nmc_fake"}[${__range}])) + nmc:relay_lanes_held:sum')
    assert concrete(expr, rate_interval="2m", range_="1h").count("[2m]") == 1
    assert "[1h]" in concrete(expr, rate_interval="2m", range_="1h")
    assert metric_names(expr) == {"nmc_api_request_duration_seconds"}
    assert recorded_names(expr) == {"nmc:relay_lanes_held:sum"}
    assert name_matchers(expr) == ["nmc_.+_dead_lettered_total"]
    with pytest.raises(ValueError, match="app"):
        concrete("nmc_streams_lag{app=\"$app\"}", rate_interval="1m", range_="1h")
