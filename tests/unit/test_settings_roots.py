"""Settings are read at the composition roots and handed in (issue #27, item 4).

`get_settings()` / `get_stack_settings()` read the environment once per process; only a
command module (`cli.py`, `*_cli.py`, `__main__.py`: the CLI commands, `nmc relay`, the edges,
the sender, the stream workers, the read API) may call them. Library code takes the settings
object its root built (`ServiceSettings`, `RelaySettings`, `OutboxSettings`, ...). Tests'
fixtures and the benches are roots of their own and are not scanned.
"""

from __future__ import annotations

import ast
from pathlib import Path

from nmc.infra.settings import PROJECT_ROOT

SOURCES = ("nmc", "producers", "stream-apps")
READERS = frozenset({"get_settings", "get_stack_settings"})


def is_root(path: Path) -> bool:
    return path.name in ("cli.py", "__main__.py") or path.name.endswith("_cli.py")


def calls_outside_roots() -> list[str]:
    found = []
    for top in SOURCES:
        for path in sorted((PROJECT_ROOT / top).rglob("*.py")):
            if is_root(path):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name in READERS:
                    where = path.relative_to(PROJECT_ROOT)
                    found.append(f"{where}:{node.lineno}: {name}()")
    return found


def test_only_composition_roots_read_the_settings() -> None:
    assert calls_outside_roots() == [], (
        "library code reads the settings itself; take them from the caller instead "
        "(the root builds them once and hands them in)")


def test_the_scan_sees_a_call(tmp_path: Path) -> None:
    # the check itself: a call the scan must find, in a module that is not a root
    tree = ast.parse("from nmc.infra.settings import get_settings\nx = get_settings().kafka\n")
    names = {getattr(n.func, "id", None) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert names & READERS == {"get_settings"}
    assert not is_root(tmp_path / "writer.py") and is_root(tmp_path / "topics_cli.py")
