"""A checkout under a private (0700) directory, as root's home or a `mktemp -d` folder is:
PostgreSQL runs as the `postgres` user, which cannot pass that directory, so the stack keeps the
server's files where that user can reach them and comes up all the same (issue #21, item 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from support.settings import PlatformSettings as Settings

from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import postgres
from nmc.stack.layout import PG_FALLBACK_ROOT, Layout


@pytest.fixture
def private_clone() -> Iterator[Path]:
    parent = Path(tempfile.mkdtemp(prefix="nmc-private-"))  # mode 0700
    assert parent.stat().st_mode & 0o777 == 0o700
    try:
        subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{PROJECT_ROOT}",
                        str(parent / "checkout")], check=True, timeout=120)
        yield parent / "checkout"
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="not root: PostgreSQL runs as this user, who can "
                    "reach its own checkout, so there is no private directory to work around")
def test_postgres_comes_up_from_a_checkout_under_a_0700_directory(
    stack: Settings, private_clone: Path
) -> None:
    settings = stack.model_copy(update={
        "nmc_home": private_clone / ".nmc",
        "nmc_postgres_port": stack.nmc_postgres_port + 7,
        "database_url": None,
    })
    layout = Layout.of(settings)
    assert layout.pg_home is not None and layout.pg_home.parent == PG_FALLBACK_ROOT, (
        "the postgres user can pass the private directory: the test arranged nothing"
    )
    said: list[str] = []
    try:
        postgres.ensure(settings, layout, said.append)
        with psycopg.connect(settings.database.replace("+psycopg", ""), connect_timeout=10) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("nmc",)
        assert "stopped" not in " ".join(said)
    finally:
        postgres.stop(layout, said.append)
        shutil.rmtree(layout.pg_home, ignore_errors=True)
