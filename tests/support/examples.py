"""Builds the consumer examples under examples/ (Node's packages, the Go binary, the Java
classpath) once, whoever asks first.

`make test` runs `main` in the background (support.prebuild) before the stack comes up, so the
builds (npm ci, go build, Maven's downloads: 1-2 minutes on a fresh machine) overlap the stack
start and lint instead of the test that needs them; the test calls the same `build`, which waits
on the per-language file lock and finds the result in place."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nmc.infra.settings import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "examples"
INSTALLED = str(Path(sys.executable).parent)  # where scripts/install.sh links a newer Go
LANGUAGES = ("node", "go", "java")


class ToolMissing(Exception):
    """A toolchain the example needs is not installed (the message says what installs it)."""


def tool(name: str) -> str | None:
    return shutil.which(name, path=INSTALLED) or shutil.which(name)


@contextmanager
def _locked(language: str) -> Iterator[None]:
    lock = EXAMPLES / language / ".build.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], cwd: Path, timeout: int) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd} ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}{done.stderr[-4000:]}")


def build(language: str) -> list[str]:
    """The command line that runs the example of `language`, built first if it is not yet."""
    if language == "python":
        return [sys.executable, str(EXAMPLES / "python" / "consume.py")]
    with _locked(language):
        if language == "java":
            java, mvn = tool("java"), tool("mvn")
            if java is None or mvn is None:
                raise ToolMissing("the Java example needs java and mvn, which `make install` "
                                  "installs (Debian: openjdk-17-jdk-headless maven)")
            lib = EXAMPLES / "java" / "target" / "lib"
            if not (lib / ".complete").exists():
                _run([mvn, "-B", "-q", "dependency:copy-dependencies",
                      f"-DoutputDirectory={lib}"], EXAMPLES / "java", 600)
                (lib / ".complete").touch()
            return [java, "-cp", f"{lib}/*", str(EXAMPLES / "java" / "Consume.java")]
        if language == "go":
            go = tool("go")
            if go is None:
                raise ToolMissing("the Go example needs Go 1.22+, which `make install` installs "
                                  "(from the Go module proxy into .venv/bin)")
            binary = EXAMPLES / "go" / "target" / "consume"
            sources = [EXAMPLES / "go" / name for name in ("main.go", "go.mod", "go.sum")]
            if not binary.exists() or binary.stat().st_mtime < max(
                    p.stat().st_mtime for p in sources):
                _run([go, "build", "-o", str(binary), "."], EXAMPLES / "go", 600)
            return [str(binary)]
        if language == "node":
            node, npm = tool("node"), tool("npm")
            if node is None or npm is None:
                raise ToolMissing("the Node example needs node and npm, which `make install` "
                                  "installs (Debian: nodejs npm)")
            modules = EXAMPLES / "node" / "node_modules"
            if not (modules / ".package-lock.json").exists():  # npm ci writes it last
                _run([npm, "ci", "--no-audit", "--no-fund"], EXAMPLES / "node", 300)
            return [node, str(EXAMPLES / "node" / "consume.js")]
    raise ValueError(f"no example in {language!r}; one of python, {', '.join(LANGUAGES)}")


def main() -> int:
    """Build every example whose toolchain is present; report, never fail `make test` here (the
    example's own test reports a failed build with its output)."""
    for language in LANGUAGES:
        try:
            build(language)
            print(f"example {language}: built", flush=True)
        except (ToolMissing, RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"example {language}: not built: {exc}", flush=True)
    return 0
