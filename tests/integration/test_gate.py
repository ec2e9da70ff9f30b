"""The gate against the real Schema Registry: a table of evolution cases, each run twice —
against the registry (v1 registered under a unique test subject) and against a git base (a temp
repository, nothing registered) — asserting verdict and reason. Test subjects are deleted after.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.settings import PlatformSettings as Settings
from typer.testing import CliRunner

from nmc.contract.schemas import SCHEMA_DIR
from nmc.schema_gate.check import Report, run_check
from nmc.schema_gate.cli import schemas_app
from nmc.schema_gate.register import register_checked
from nmc.schema_gate.registry_api import Registry

NS = "nmc.telephony.v1"
SUBJECT_V1 = "nmc.telephony-nmc.telephony.v1.GateFoo"
SUBJECT_V2 = "nmc.telephony-nmc.telephony.v2.GateFoo"


def base_schema() -> dict[str, Any]:
    return {
        "type": "record", "name": "GateFoo", "namespace": NS, "doc": "Gate test event.",
        "nmc.version": "1.2.0",
        "fields": [
            {"name": "count", "type": "int", "doc": "A count."},
            {"name": "label", "type": "string", "default": "none", "doc": "Has a default."},
            {"name": "phone", "type": "string", "doc": "No default."},
            {"name": "colour", "type": {"type": "enum", "name": "Colour", "doc": "no default",
                                        "symbols": ["RED", "GREEN"]}, "doc": "Enum."},
            {"name": "size", "type": {"type": "enum", "name": "Size", "doc": "with default",
                                      "symbols": ["S", "M", "UNKNOWN"], "default": "UNKNOWN"},
             "doc": "Enum with default."},
            {"name": "ref", "type": ["null", "string"], "default": None, "doc": "Union."},
            {"name": "ticks", "type": ["null", "int", "long"], "default": None, "doc": "Union."},
            {"name": "serial", "type": ["null", "long"], "default": None, "doc": "Union."},
            {"name": "code", "type": "string", "default": "", "doc": "Plain string."},
            {"name": "price", "type": {"type": "bytes", "logicalType": "decimal",
                                       "precision": 9, "scale": 2}, "doc": "Decimal."},
            {"name": "payload", "doc": "Nested record.", "type": {
                "type": "record", "name": "GateFooPayload", "namespace": NS, "doc": "Payload.",
                "fields": [{"name": "call_id", "type": "string", "doc": "Id."}]}},
        ],
    }


def field(s: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in s["fields"] if f["name"] == name)


Mut = Callable[[dict[str, Any]], None]


def add_optional(s: dict[str, Any]) -> None:
    s["fields"].append({"name": "note", "type": ["null", "string"], "default": None, "doc": "n"})


def version(v: str) -> Mut:
    return lambda s: s.__setitem__("nmc.version", v)


def both(*muts: Mut) -> Mut:
    def run(s: dict[str, Any]) -> None:
        for m in muts:
            m(s)
    return run


def rename_with_alias(s: dict[str, Any]) -> None:
    f = field(s, "phone")
    f["name"], f["aliases"] = "caller_phone", ["phone"]


# Avro Java's SchemaCompatibility (which the registries run) ignores decimal parameters
# (AVRO-2078); the specification does not, and neither does the gate.
DECIMAL_REJECTED = False

# (id, mutation, verdict, reason substring, registry rejects it)
CASES: list[tuple[str, Mut, str, str, bool]] = [
    ("add-optional-minor", both(add_optional, version("1.3.0")), "PASS", "minor bump", False),
    ("add-optional-labelled-patch", both(add_optional, version("1.2.1")), "FAIL",
     "labelled patch", False),
    ("add-without-default",
     both(lambda s: s["fields"].append({"name": "x", "type": "string", "doc": "x"}),
          version("1.3.0")), "FAIL", "x: added without a default", True),
    ("remove-with-default",
     both(lambda s: s["fields"].remove(field(s, "label")), version("1.3.0")), "PASS",
     "minor bump", False),
    ("remove-without-default",
     both(lambda s: s["fields"].remove(field(s, "phone")), version("1.3.0")), "FAIL",
     "phone: removed; it had no default", True),
    ("rename-with-alias", both(rename_with_alias, version("1.3.0")), "FAIL",
     "caller_phone: renamed from 'phone'", True),
    ("int-to-long",
     both(lambda s: field(s, "count").__setitem__("type", "long"), version("1.3.0")), "FAIL",
     "count: type int -> long is backward compatible", True),
    ("enum-symbol-with-default",
     both(lambda s: field(s, "size")["type"]["symbols"].append("L"), version("1.3.0")), "PASS",
     "minor bump", False),
    ("enum-symbol-without-default",
     both(lambda s: field(s, "colour")["type"]["symbols"].append("BLUE"), version("1.3.0")),
     "FAIL", "colour: enum symbols added: ['BLUE']", True),
    ("make-nullable",
     both(lambda s: field(s, "phone").update(type=["null", "string"], default=None),
          version("1.3.0")), "FAIL", "phone: made nullable", True),
    ("change-nested-namespace",
     both(lambda s: field(s, "payload")["type"].__setitem__("namespace", "nmc.other.v1"),
          version("1.3.0")), "FAIL", "payload: record namespace nmc.telephony.v1 -> nmc.other.v1",
     False),  # Avro compares unqualified names: the registry accepts it, our policy does not
    ("change-record-namespace",
     both(lambda s: s.__setitem__("namespace", "nmc.other.v1"), version("1.3.0")), "FAIL",
     "record must be named nmc.telephony.v1.GateFoo", False),
    ("doc-only-patch",
     both(lambda s: field(s, "count").__setitem__("doc", "Better doc."), version("1.2.1")),
     "PASS", "patch bump", False),
    ("doc-only-labelled-minor",
     both(lambda s: field(s, "count").__setitem__("doc", "Better doc."), version("1.3.0")),
     "FAIL", "at most a patch", False),
    # issue #12 items 10-12: union branches resolve by promotion, any change of the canonical
    # form needs a bump, decimals match only with equal precision and scale
    ("union-string-to-bytes",
     both(lambda s: field(s, "ref").__setitem__("type", ["null", "bytes"]), version("1.3.0")),
     "PASS", "minor bump", False),
    ("union-int-long-to-long",
     both(lambda s: field(s, "ticks").__setitem__("type", ["null", "long"]), version("1.3.0")),
     "PASS", "minor bump", False),
    ("union-long-to-int-long",
     both(lambda s: field(s, "serial").__setitem__("type", ["null", "int", "long"]),
          version("1.3.0")), "PASS", "minor bump", False),
    ("union-long-to-int",
     both(lambda s: field(s, "serial").__setitem__("type", ["null", "int"]), version("1.3.0")),
     "FAIL", "serial: union branches removed: ['long']", True),
    ("singleton-union-unbumped", lambda s: field(s, "code").__setitem__("type", ["string"]),
     "FAIL", "1.2.0 reused for different content: a minor change", False),
    ("singleton-union-minor",
     both(lambda s: field(s, "code").__setitem__("type", ["string"]), version("1.3.0")),
     "PASS", "minor bump", False),
    ("decimal-scale-labelled-patch",
     both(lambda s: field(s, "price")["type"].__setitem__("scale", 3), version("1.2.1")),
     "FAIL", "price: decimal(precision, scale) (9, 2) -> (9, 3)", DECIMAL_REJECTED),
    ("decimal-precision-labelled-patch",
     both(lambda s: field(s, "price")["type"].__setitem__("precision", 12), version("1.2.1")),
     "FAIL", "price: decimal(precision, scale) (9, 2) -> (12, 2)", DECIMAL_REJECTED),
    ("unchanged-but-bumped", version("1.2.1"), "FAIL", "unchanged but version bumped", False),
    ("version-down", version("1.1.0"), "FAIL", "went down", False),
    ("same-version-different-content",
     lambda s: field(s, "count").__setitem__("doc", "Better doc."), "FAIL",
     "1.2.0 reused for different content", False),
]


def write(schema_dir: Path, raw: dict[str, Any], major: int = 1) -> Path:
    path = schema_dir / "telephony" / f"GateFoo.v{major}.avsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return path


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)


def result_for(report: Report, subject_suffix: str) -> Any:
    return next(r for r in report.results if r.subject.endswith(subject_suffix))


@pytest.fixture
def prefix(stack: Settings) -> Iterator[str]:
    """A unique subject prefix; its subjects are hard-deleted after the test."""
    p = f"gate-test-{uuid.uuid4().hex[:12]}-"
    yield p
    with Registry(stack.registry) as reg:
        for s in (SUBJECT_V1, SUBJECT_V2):
            reg.delete_subject(p + s)


def register_v1(stack: Settings, tmp_path: Path, prefix: str) -> None:
    """History: 1.2.0 registered directly (the gate would want a new subject to start at 1.0.0)."""
    with Registry(stack.registry) as reg:
        reg.set_level(prefix + SUBJECT_V1, "FULL_TRANSITIVE")
        reg.register(prefix + SUBJECT_V1, base_schema())


@pytest.mark.parametrize(("mutate", "verdict", "reason", "rejects"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_evolution_against_registry(stack: Settings, tmp_path: Path, prefix: str, mutate: Mut,
                                    verdict: str, reason: str, rejects: bool) -> None:
    register_v1(stack, tmp_path, prefix)
    new = copy.deepcopy(base_schema())
    mutate(new)
    d = tmp_path / "work"
    write(d, new)
    report = run_check(d, stack.registry, use_git=False, subject_prefix=prefix)
    (result,) = report.results
    text = "\n".join(result.reasons)
    assert result.verdict == verdict, text
    assert reason in text, text
    assert ("registry: rejects it under FULL_TRANSITIVE" in text) == rejects, text


@pytest.mark.parametrize(("mutate", "verdict", "reason", "rejects"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_evolution_against_git_base(tmp_path: Path, mutate: Mut, verdict: str, reason: str,
                                    rejects: bool) -> None:
    repo = tmp_path / "repo"
    d = repo / "schemas-avro"
    write(d, base_schema())
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    new = copy.deepcopy(base_schema())
    mutate(new)
    write(d, new)
    report = run_check(d, None)  # default base: main == HEAD -> the working-tree change
    (result,) = report.results
    text = "\n".join(result.reasons)
    assert result.verdict == verdict, text
    assert reason in text, text


def test_major_version_side_by_side_is_a_new_subject(stack: Settings, tmp_path: Path,
                                                     prefix: str) -> None:
    register_v1(stack, tmp_path, prefix)
    d = tmp_path / "work"
    write(d, base_schema())
    v2 = base_schema()
    v2["namespace"] = "nmc.telephony.v2"
    v2["nmc.version"] = "2.0.0"
    field(v2, "count")["type"] = "long"          # the breaking change that needed v2
    field(v2, "payload")["type"]["namespace"] = "nmc.telephony.v2"
    write(d, v2, major=2)
    report = run_check(d, stack.registry, use_git=False, subject_prefix=prefix)
    assert report.ok, report.as_json()
    r2 = result_for(report, SUBJECT_V2)
    assert r2.subject == prefix + SUBJECT_V2
    assert "new subject at 2.0.0" in "\n".join(r2.reasons)
    assert "already registered" in "\n".join(result_for(report, SUBJECT_V1).reasons)
    # register is idempotent: the second run changes nothing
    first = register_checked(report, stack.registry)
    assert [(r.subject.endswith(SUBJECT_V2), r.created) for r in first] == [(False, False),
                                                                            (True, True)]
    again = register_checked(run_check(d, stack.registry, use_git=False, subject_prefix=prefix),
                             stack.registry)
    assert not any(r.created or r.level_set for r in again)
    with Registry(stack.registry) as reg:
        assert reg.own_level(prefix + SUBJECT_V2) == "FULL_TRANSITIVE"


def v2_keeping_v1_payload() -> dict[str, Any]:
    """A major version whose payload record still says nmc.telephony.v1 (issue #12, item 13)."""
    v2 = base_schema()
    v2["namespace"] = "nmc.telephony.v2"
    v2["nmc.version"] = "2.0.0"
    field(v2, "count")["type"] = "long"
    assert field(v2, "payload")["type"]["namespace"] == NS
    return v2


@pytest.mark.parametrize("against", ["registry", "nothing"])
def test_major_version_keeping_the_old_payload_namespace_is_refused(
    stack: Settings, tmp_path: Path, prefix: str, against: str
) -> None:
    register_v1(stack, tmp_path, prefix)
    d = tmp_path / "work"
    write(d, base_schema())
    write(d, v2_keeping_v1_payload(), major=2)
    registry = stack.registry if against == "registry" else None
    report = run_check(d, registry, use_git=False, subject_prefix=prefix)
    r2 = result_for(report, SUBJECT_V2)
    assert r2.verdict == "FAIL", r2.reasons
    assert ("named type nmc.telephony.v1.GateFooPayload is defined in namespace"
            " nmc.telephony.v1; every named type of this file must live in nmc.telephony.v2"
            in "\n".join(r2.reasons)), r2.reasons
    result = CliRunner().invoke(schemas_app, ["register", "--schemas", str(d), "--registry",
                                              stack.registry, "--subject-prefix", prefix])
    assert result.exit_code == 1, result.output
    with Registry(stack.registry) as reg:
        assert reg.versions(prefix + SUBJECT_V2) == []


def test_register_refuses_what_the_gate_refuses(stack: Settings, tmp_path: Path,
                                                prefix: str) -> None:
    register_v1(stack, tmp_path, prefix)
    new = base_schema()
    field(new, "count")["type"] = "long"
    new["nmc.version"] = "1.3.0"
    d = tmp_path / "work"
    write(d, new)
    result = CliRunner().invoke(schemas_app, ["register", "--schemas", str(d), "--registry",
                                              stack.registry, "--subject-prefix", prefix])
    assert result.exit_code == 1, result.output
    with Registry(stack.registry) as reg:
        assert reg.versions(prefix + SUBJECT_V1) == [1]


def test_repository_schemas_pass(stack: Settings) -> None:
    result = CliRunner().invoke(schemas_app, ["check", "--format", "json", "--registry",
                                              stack.registry])
    data = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout
    assert data["summary"]["failed"] == 0
    assert data["summary"]["passed"] == len(list(SCHEMA_DIR.glob("*/*.avsc")))
    assert {r["verdict"] for r in data["results"]} == {"PASS"}


def test_unreachable_registry_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(schemas_app, ["check", "--registry", "http://127.0.0.1:1/x"])
    assert result.exit_code == 2
    assert "unreachable" in result.output
