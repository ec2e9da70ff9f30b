"""`nmc schemas check`: every schema file against the registry and against its git base.

Two references, because each covers what the other cannot: the registry is the authority on what
consumers may already have read (all registered versions, FULL_TRANSITIVE), and git knows the
previous version before anything was registered. Each file yields one PASS/FAIL result with
field-level reasons; nothing is written anywhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nmc.contract.schemas import (
    EventSchema,
    SchemaCatalogError,
    load_schema_file,
    parse_semver,
    subject_for,
)
from nmc.schema_gate import git
from nmc.schema_gate.avro import normalize
from nmc.schema_gate.compat import full_errors
from nmc.schema_gate.diff import Change, Impact, diff_schemas
from nmc.schema_gate.policy import Verdict, classify_bump, decide, decide_new, namespace_errors
from nmc.schema_gate.registry_api import RegisteredVersion, Registry

REQUIRED_LEVEL = "FULL_TRANSITIVE"
_FILE_RE = re.compile(r"^(?P<event>[A-Za-z0-9_]+)\.v(?P<major>\d+)\.avsc$")


class UsageError(RuntimeError):
    """Bad arguments (unknown --base, missing directory): exit code 2."""


@dataclass
class Result:
    """The gate's verdict for one schema file / subject."""

    subject: str
    file: str
    verdict: str = "PASS"
    reasons: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.verdict = "FAIL"
        self.reasons.append(reason)

    def note(self, reason: str) -> None:
        self.reasons.append(reason)

    def apply(self, verdict: Verdict, prefix: str) -> None:
        for reason in verdict.reasons:
            (self.note if verdict.ok else self.fail)(f"{prefix}{reason}")

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def as_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "file": self.file, "verdict": self.verdict,
                "reasons": self.reasons, "changes": self.changes}


@dataclass
class Report:
    """All results plus what they were compared with."""

    results: list[Result]
    base: str | None
    registry: str | None
    schemas: dict[str, EventSchema] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "results": [r.as_json() for r in self.results],
            "summary": {"passed": self.passed, "failed": self.failed,
                        "base": self.base, "registry": self.registry},
        }


def canonical(raw: Any) -> str:
    """Semantic identity of a schema: full names resolved, key order ignored.

    Registries re-serialise what they store (Apicurio drops a nested record's namespace when it
    equals the enclosing one), so textual equality would call an unchanged schema different.
    """
    return json.dumps(normalize(raw)[0], sort_keys=True, separators=(",", ":"))


def _tag(changes: list[Change], against: str) -> list[dict[str, Any]]:
    return [{**c.as_json(), "against": against} for c in changes]


def _version_of(raw: Any) -> str | None:
    v = raw.get("nmc.version") if isinstance(raw, dict) else None
    try:
        parse_semver(v) if isinstance(v, str) else None
    except ValueError:
        return None
    return v if isinstance(v, str) else None


def _subject_guess(path: Path, prefix: str) -> str:
    m = _FILE_RE.match(path.name)
    if not m:
        return f"{prefix}{path.name}"
    d = path.parent.name
    return f"{prefix}nmc.{d}-nmc.{d}.v{m['major']}.{m['event']}"


def _compare(result: Result, old_raw: Any, schema: EventSchema, label: str) -> None:
    """Diff + versioning policy of the working file against one previous version."""
    old_version = _version_of(old_raw)
    if old_version is None:
        result.fail(f"{label}: previous version has no valid 'nmc.version'")
        return
    changes = diff_schemas(old_raw, schema.raw)
    result.changes += _tag(changes, label)
    result.apply(decide(changes, old_version, schema.version, schema.full_name), f"{label}: ")


def check_file(
    path: Path,
    display: str,
    registry: Registry | None,
    base_raw: Any | None,
    base_label: str,
    subject_prefix: str = "",
    level: str = REQUIRED_LEVEL,
    topic_suffix: str = "",
) -> tuple[Result, EventSchema | None]:
    """The gate for one file (pure apart from the registry reads). `topic_suffix`: judge it
    under the subject of an isolated topic copy (`nmc demo --evolve`)."""
    try:
        schema = load_schema_file(path)
    except SchemaCatalogError as exc:
        result = Result(_subject_guess(path, subject_prefix), display)
        result.fail(str(exc).replace(str(path), display))
        return result, None
    subject = subject_prefix + subject_for(schema.topic + topic_suffix, schema.full_name)
    result = Result(subject, display)
    for error in namespace_errors(schema.raw, schema.full_name.rsplit(".", 1)[0]):
        result.fail(error)
    current = canonical(schema.raw)

    if base_raw is not None:
        if canonical(base_raw) == current:
            result.note(f"unchanged since {base_label}")
        else:
            _compare(result, base_raw, schema, base_label)

    registered: list[RegisteredVersion] = []
    if registry is not None:
        registered = registry.all_versions(subject)
    if registered:
        _against_registry(result, registry, subject, registered, schema, base_raw, level)
    elif base_raw is None:
        result.apply(decide_new(schema.version, schema.major),
                     "not in git base, not registered: " if registry is not None
                     else "not in git base: ")
    return result, schema


def _against_registry(
    result: Result,
    registry: Registry | None,
    subject: str,
    registered: list[RegisteredVersion],
    schema: EventSchema,
    base_raw: Any | None,
    level: str,
) -> None:
    assert registry is not None
    current = canonical(schema.raw)
    effective = registry.level(subject)
    if effective != level:
        result.fail(
            f"registry: subject compatibility level is {effective}, must be {level} (the registry"
            " would accept breaking changes); `nmc schemas register` sets it"
        )
    # versions: never down, never reused for other content, across everything registered
    for rv in registered:
        v = _version_of(rv.raw)
        if v is None:
            continue
        if v == schema.version and canonical(rv.raw) != current:
            result.fail(
                f"registry: version {v} is already registered (v{rv.version}, id {rv.schema_id})"
                " with different content; a version may not be reused"
            )
        elif classify_bump(v, schema.version).value == "down":
            result.fail(
                f"registry: version {schema.version} is lower than registered {v}"
                f" (v{rv.version}); versions only ever increase"
            )
    same = [rv for rv in registered if canonical(rv.raw) == current]
    if same:
        rv = same[-1]
        result.note(f"registry: already registered as version {rv.version} (id {rv.schema_id})")
        return
    answer = registry.check_compatibility(subject, schema.raw)
    if not answer.is_compatible:
        detail = "; ".join(answer.messages) or "the registry gave no details; field level below"
        result.fail(f"registry: rejects it under {effective}: {detail}")
    # FULL_TRANSITIVE ourselves too, whatever level the subject is configured with; the latest
    # version is compared in full below (or was, as the git base), so only older ones here
    for rv in registered[:-1]:
        errors = full_errors(rv.raw, schema.raw)
        if not errors:
            continue
        label = f"registry v{rv.version}"
        majors = [c for c in diff_schemas(rv.raw, schema.raw) if c.impact is Impact.MAJOR]
        result.changes += _tag(majors, label)
        for change in majors:
            result.fail(f"{label}: not FULL compatible: {change.explain()}")
        if not majors:
            for e in errors:
                result.fail(f"{label}: not FULL compatible: {e}")
    latest = registered[-1]
    if base_raw is None or canonical(base_raw) != canonical(latest.raw):
        _compare(result, latest.raw, schema, f"registry v{latest.version}")


def run_check(
    schema_dir: Path,
    registry_url: str | None,
    base: str | None = None,
    *,
    use_git: bool = True,
    subject_prefix: str = "",
    level: str = REQUIRED_LEVEL,
) -> Report:
    """Check every `<domain>/<Event>.v<N>.avsc` under `schema_dir`.

    `registry_url=None` skips the registry (git only); `base=None` picks the default base
    (merge base with main, else HEAD); `use_git=False` skips git.
    """
    schema_dir = schema_dir.resolve()
    if not schema_dir.is_dir():
        raise UsageError(f"schema directory {schema_dir} does not exist")
    root = git.repo_root(schema_dir) if use_git else None
    commit: str | None = None
    if root is not None:
        try:
            commit = git.resolve(root, base) if base else git.default_base(root)
        except git.GitError as exc:
            raise UsageError(f"--base {base!r}: {exc}") from exc
    elif base:
        raise UsageError(f"--base given but {schema_dir} is not in a git repository")
    label = f"git {base or 'base'} ({commit[:10]})" if commit else "git"

    registry = Registry(registry_url) if registry_url else None
    try:
        if registry is not None:
            registry.ping()
        results: list[Result] = []
        schemas: dict[str, EventSchema] = {}
        paths = sorted(schema_dir.glob("*/*.avsc"))
        seen_rel: set[str] = set()
        for path in paths:
            display = str(path.relative_to(root if root else schema_dir.parent))
            base_raw: Any | None = None
            if root is not None and commit is not None:
                rel = path.relative_to(root).as_posix()
                seen_rel.add(rel)
                text = git.show(root, commit, rel)
                if text is not None:
                    try:
                        base_raw = json.loads(text)
                    except json.JSONDecodeError:
                        base_raw = None
            result, schema = check_file(path, display, registry, base_raw, label,
                                        subject_prefix, level)
            results.append(result)
            if schema is not None:
                schemas[result.subject] = schema
        if root is not None and commit is not None:
            reldir = schema_dir.relative_to(root).as_posix()
            for rel in git.list_files(root, commit, "" if reldir == "." else reldir):
                if rel.endswith(".avsc") and rel not in seen_rel and rel.count("/") >= 1:
                    gone = Result(_subject_guess(root / rel, subject_prefix), rel)
                    gone.note(f"removed since {label}: retired; the registry keeps its versions")
                    results.append(gone)
    finally:
        if registry is not None:
            registry.close()
    results.sort(key=lambda r: r.file)
    return Report(results, commit, registry_url, schemas)
