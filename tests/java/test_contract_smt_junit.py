"""Runs the JUnit tests of connectors/contract-smt with Maven (part of `make test`).

Maven fetches what it lacks from Maven Central on a fresh machine (~25 s), then works offline
from its local repository. The module's target/ is ignored by git."""

from __future__ import annotations

import re
import shutil
import subprocess

from nmc.stack.connect import SMT_DIR


def test_contract_smt_junit_suite_passes() -> None:
    mvn = shutil.which("mvn")
    assert mvn is not None, "mvn not found: apt-get install maven"
    proc = subprocess.run([mvn, "-B", "test"], cwd=SMT_DIR, capture_output=True, text=True,
                          timeout=540, check=False)
    tail = "\n".join(proc.stdout.splitlines()[-40:])
    assert proc.returncode == 0, tail
    runs = re.findall(r"Tests run: (\d+), Failures: 0, Errors: 0", proc.stdout)
    assert runs and int(runs[-1]) >= 8, tail
