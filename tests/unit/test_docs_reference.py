"""The generated pages of the docs site (settings, commands, read API, performance) are what
`nmc docs build` generates from the code, every setting and command is documented, and every
settings class of the sources is in the reference."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import typer

from nmc.cli import app
from nmc.docs_site import commands_reference, performance, settings_reference
from nmc.docs_site.build import DOCS_DIR, build, render, stale_pages
from nmc.infra.settings import PROJECT_ROOT

ROOT = typer.main.get_command(app)
SOURCES = ("nmc", "producers", "stream-apps")


def settings_classes_in_sources() -> set[str]:
    """`module.Class` of every settings class under the sources (read, not imported): each
    `class X(BaseSettings)`, and each class deriving from one of those (`StackSettings`)."""
    classes: list[tuple[str, str, set[str]]] = []
    for top in SOURCES:
        for path in (PROJECT_ROOT / top).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            module = ".".join(parts[1:] if parts[0] == "stream-apps" else parts)
            classes += [(module, node.name,
                         {str(getattr(b, "id", getattr(b, "attr", None))) for b in node.bases})
                        for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    names, found = {"BaseSettings"}, set()
    while True:
        more = {(m, n) for m, n, bases in classes if bases & names} - found
        if not more:
            return {f"{m}.{n}" for m, n in found}
        found |= more
        names |= {n for _, n in more}


def test_committed_generated_pages_are_not_stale() -> None:
    problems = stale_pages(ROOT)
    assert problems == [], "run `nmc docs build` and commit docs/: " + ", ".join(problems)


def test_every_settings_class_is_in_the_reference() -> None:
    listed = {f"{module}.{name}" for module, name, _ in settings_reference.SETTINGS_CLASSES}
    assert settings_classes_in_sources() == listed


def test_every_setting_has_a_description() -> None:
    missing = {cls.__name__: settings_reference.undocumented(cls)
               for cls, _ in settings_reference.settings_classes()}
    assert {k: v for k, v in missing.items() if v} == {}, "add Field(description=...)"


def test_every_setting_and_command_appears_on_its_page() -> None:
    pages = render(ROOT)
    for cls, _ in settings_reference.settings_classes():
        for row in settings_reference.rows(cls):
            assert f"| `{row.env}` |" in pages["reference/settings.md"], row.env
    assert commands_reference.missing_help(ROOT) == []
    names = [name for name, _ in commands_reference.commands(ROOT)]
    assert {"nmc status", "nmc tail", "nmc dlq replay", "nmc worker rebuild",
            "nmc docs build"} <= set(names)
    for name in names:
        assert f"`{name}`" in pages["reference/commands.md"], name


def test_generated_pages_do_not_depend_on_the_checkout_or_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NMC_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "other:9092")
    monkeypatch.setenv("NMC_STREAMS_BATCH_MAX_EVENTS", "7")
    text = "\n".join(render(ROOT).values())
    assert str(PROJECT_ROOT) not in text and str(tmp_path) not in text
    assert stale_pages(ROOT) == []


def test_build_writes_what_check_accepts_and_check_sees_an_edit(tmp_path: Path) -> None:
    (tmp_path / "performance").mkdir()
    for source in (DOCS_DIR / "performance").glob("*.json"):
        (tmp_path / "performance" / source.name).write_bytes(source.read_bytes())
    written = build(ROOT, tmp_path)
    assert stale_pages(ROOT, tmp_path) == []
    (tmp_path / written[0]).write_text("edited", encoding="utf-8")
    assert stale_pages(ROOT, tmp_path) == [f"stale {written[0]}"]


def test_performance_files_name_their_command_machine_and_source() -> None:
    documents = performance.load(DOCS_DIR / "performance")
    assert {d["bench"] for d in documents} == set(performance.BENCHES)
    for d in documents:
        assert d["command"].startswith((".venv/bin/python -m bench.", ".venv/bin/pytest ")), d
        assert d["source"] and d["rows"], d["bench"]
        assert {"cpu_count", "load_average", "git_commit", "utc_time"} <= set(d["machine"])


def test_performance_refuses_a_file_it_would_not_show(tmp_path: Path) -> None:
    (tmp_path / "mystery.json").write_text(json.dumps({"bench": "mystery"}), encoding="utf-8")
    with pytest.raises(ValueError, match="mystery"):
        performance.load(tmp_path)


def test_bench_json_is_what_the_performance_page_reads(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))  # bench/ is not installed
    from bench.results import write_json

    monkeypatch.setattr("sys.argv", ["relay", "--backlog", "10", "--json", "x.json"])
    write_json(tmp_path / "relay.json", "relay", ["measure", "value"], [["drain", "1 ev/s"]])
    [document] = performance.load(tmp_path)
    assert document["command"] == ".venv/bin/python -m bench.relay --backlog 10"
    assert document["machine"]["cpu_count"] and document["machine"]["utc_time"]
    assert "| drain | 1 ev/s |" in performance.render(tmp_path)
