"""Artifacts from Maven Central, cached under `<nmc_home>/cache` behind a completion marker.

The marker is written only after the whole download (and extraction) succeeded, so an
interrupted run leaves no marker and the next `up` redoes the step from scratch.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path

from nmc.stack import render
from nmc.stack.errors import StackError
from nmc.stack.procs import require_tool, run_checked
from nmc.stack.settings import StackVersions

MARKER = ".complete"

Say = Callable[[str], None]


def cached(target: Path, fill: Callable[[Path], None]) -> Path:
    """`target`, filled by `fill` unless a previous fill completed. The fill happens in a
    private sibling folder renamed into place when done, so two processes filling the same
    target (two test workers, two checkouts sharing a cache) never delete each other's work."""
    if (target / MARKER).exists():
        return target
    work = target.parent / f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        fill(work)
        (work / MARKER).write_text("ok\n")
        if target.exists() and not (target / MARKER).exists():
            shutil.rmtree(target, ignore_errors=True)  # a fill that died half-way
        try:
            work.rename(target)
        except OSError:
            if not (target / MARKER).exists():  # not another process's finished fill
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def kafka_libs(cache: Path, versions: StackVersions, say: Say) -> Path:
    """Directory of the broker's runtime jars (Kafka + log4j2 + slf4j 2)."""
    target = cache / f"kafka-{versions.kafka_version}-log4j-{versions.log4j_version}"
    if (target / MARKER).exists():
        return target / "libs"

    def fill(dest: Path) -> None:
        mvn = require_tool("kafka", "mvn", "apt-get install maven")
        say(f"downloading kafka {versions.kafka_version} jars from Maven Central...")
        (dest / "pom.xml").write_text(render.render_kafka_pom(versions))
        libs = dest / "libs"
        run_checked(
            "kafka",
            [
                mvn, "-B", "-q", "-f", str(dest / "pom.xml"),
                "dependency:copy-dependencies", "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
            ],
            cwd=dest, attempts=3,
        )
        for name in render.stale_slf4j_jars(sorted(p.name for p in libs.glob("*.jar"))):
            (libs / name).unlink()
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise StackError("kafka", f"maven finished but no kafka_2.13 jar in {libs}")

    cached(target, fill)
    return target / "libs"


def apicurio_app(cache: Path, versions: StackVersions, say: Say) -> Path:
    """Directory holding Apicurio's Quarkus fast-jar (`quarkus-run.jar`)."""
    version = versions.apicurio_version
    target = cache / f"apicurio-registry-{version}"
    if (target / MARKER).exists():
        return target / "app"

    def fill(dest: Path) -> None:
        mvn = require_tool("registry", "mvn", "apt-get install maven")
        say(f"downloading apicurio registry {version} from Maven Central...")
        run_checked(
            "registry",
            [
                mvn, "-B", "-q", "dependency:copy",
                f"-Dartifact=io.apicurio:apicurio-registry-app:{version}:tar.gz:all",
                f"-DoutputDirectory={dest}",
            ],
            cwd=dest, attempts=3,
        )
        archives = list(dest.glob("*.tar.gz"))
        if not archives:
            raise StackError("registry", f"maven finished but no tar.gz in {dest}")
        say("extracting apicurio registry...")
        app = dest / "app"
        with tarfile.open(archives[0]) as tar:
            tar.extractall(app, filter="data")
        if not (app / "quarkus-run.jar").exists():
            found = next(app.rglob("quarkus-run.jar"), None)
            if found is None:
                raise StackError("registry", f"no quarkus-run.jar inside {archives[0].name}")
            found.parent.rename(dest / "app-root")
            shutil.rmtree(app)
            (dest / "app-root").rename(app)
        archives[0].unlink()

    cached(target, fill)
    return target / "app"


def jmx_agent(cache: Path, versions: StackVersions, say: Say,
              service: str = "kafka") -> Path:
    """The Prometheus JMX exporter's java agent jar (one shaded jar, no dependencies)."""
    version = versions.jmx_exporter_version
    target = cache / f"jmx-exporter-{version}"
    jar = target / f"{render.JMX_AGENT_JAR}-{version}.jar"
    if (target / MARKER).exists():
        return jar

    def fill(dest: Path) -> None:
        mvn = require_tool(service, "mvn", "apt-get install maven")
        say(f"downloading the prometheus jmx exporter {version} from Maven Central...")
        run_checked(
            service,
            [
                mvn, "-B", "-q", "dependency:copy",
                f"-Dartifact=io.prometheus.jmx:{render.JMX_AGENT_JAR}:{version}",
                f"-DoutputDirectory={dest}",
            ],
            cwd=dest, attempts=3,
        )
        if not (dest / jar.name).exists():
            raise StackError(service, f"maven finished but no {jar.name} in {dest}")

    cached(target, fill)
    return jar
