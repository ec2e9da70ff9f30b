"""The suite's own layout: test modules have unique basenames across tests/ (the folders are
not packages, so two `test_x.py` collide when one run collects both: "import file mismatch",
which `pytest tests/unit` alone never shows and the full `make test` does)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_basenames_are_unique_across_the_suite() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    clashes = {name: sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob(name))
               for name, n in names.items() if n > 1}
    assert not clashes, f"rename one of each: {clashes}"
