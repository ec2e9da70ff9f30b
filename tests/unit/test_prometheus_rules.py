"""The Prometheus rules in deploy/prometheus/: promtool accepts them, their promtool unit tests
pass, every alert is tested (firing and quiet) and links a runbook section that exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from nmc.infra.settings import PROJECT_ROOT

RULES = sorted((PROJECT_ROOT / "deploy/prometheus/rules").glob("*.yml"))
RULE_TESTS = sorted((PROJECT_ROOT / "deploy/prometheus/tests").glob("*.test.yml"))
RUNBOOK = PROJECT_ROOT / "docs/operating/monitoring.md"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: scripts/install.sh installs Debian's `prometheus`")
    return path


def _run(*args: str) -> None:
    proc = subprocess.run([_promtool(), *args], capture_output=True, text=True, check=False,
                          cwd=PROJECT_ROOT / "deploy/prometheus")
    assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}{proc.stderr}"


def _alerts() -> list[dict[str, Any]]:
    return [rule for path in RULES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def test_promtool_checks_the_rules() -> None:
    assert RULES, "no rule files under deploy/prometheus/rules"
    _run("check", "rules", *map(str, RULES))


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool tests under deploy/prometheus/tests"
    _run("test", "rules", *(str(p.relative_to(p.parents[1])) for p in RULE_TESTS))


def test_every_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown quiet (healthy or resolved)"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_alert_has_severity_summary_and_an_existing_runbook() -> None:
    anchors = _anchors(RUNBOOK.read_text(encoding="utf-8"))
    for rule in _alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"], name
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (PROJECT_ROOT / path).resolve() == RUNBOOK.resolve(), name
        assert anchor in anchors, f"{name}: no heading #{anchor} in docs/operating/monitoring.md"
