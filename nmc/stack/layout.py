"""Where everything of the local stack lives on disk: one tree under `settings.nmc_home`."""

from __future__ import annotations

import hashlib
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from nmc.stack.settings import StackSettings

# Where PostgreSQL's files go when the postgres user cannot reach nmc_home (a checkout under a
# 0700 directory, run as root): Debian's own home of that user, which it owns.
PG_FALLBACK_ROOT = Path("/var/lib/postgresql/nmc")


def traversable(ancestors: list[tuple[int, int, int]], uid: int, gids: set[int]) -> bool:
    """Whether a user (`uid`, `gids`) may pass every directory of `ancestors` (mode, owner uid,
    owner gid): the search bit of the class the user falls in, as the kernel checks it."""
    for mode, owner, group in ancestors:
        if uid == 0:
            continue
        if owner == uid:
            bit = stat.S_IXUSR
        elif group in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not mode & bit:
            return False
    return True


def _postgres_reaches(home: Path) -> bool:
    """As root, PostgreSQL runs as `postgres`: can that user reach `home`? (Not root: yes.)"""
    if os.geteuid() != 0:
        return True
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        return True  # no postgres user yet: install.sh adds it; the server path reports errors
    gids = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    ancestors = []
    for path in (home, *home.parents):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue  # created later by us, with the default (traversable) mode
        ancestors.append((st.st_mode, st.st_uid, st.st_gid))
    return traversable(ancestors, user.pw_uid, gids)


def parse_kafka_dir(kafka_dir: str) -> tuple[bool, int]:
    """(secured, nodes) of a Kafka folder name as `Layout.of` builds it (`kafka-secure-3`)."""
    parts = kafka_dir.split("-")
    nodes = int(parts[-1]) if parts[-1].isdigit() else 1
    return "secure" in parts, nodes


@dataclass(frozen=True)
class Layout:
    """Paths of the local stack; keeping them in one place keeps `down` able to find `up`'s work."""

    home: Path
    kafka_dir: str = "kafka"
    # PostgreSQL's data, socket and log when the postgres user cannot reach `home` (see `of`)
    pg_home: Path | None = None

    @classmethod
    def of(cls, settings: StackSettings) -> Layout:
        """One Kafka folder per stack shape (a quorum cannot be re-formatted in place)."""
        kafka_dir = "kafka" + ("-secure" if settings.nmc_stack_secure else "")
        if settings.nmc_stack_brokers > 1:
            kafka_dir += f"-{settings.nmc_stack_brokers}"
        home = Path(settings.nmc_home).resolve()
        pg_home = None
        if not _postgres_reaches(home):
            digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
            pg_home = PG_FALLBACK_ROOT / digest
        return cls(home=home, kafka_dir=kafka_dir, pg_home=pg_home)

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def pg_data(self) -> Path:
        return (self.pg_home or self.home / "postgres") / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.pg_home / "run" if self.pg_home else self.run / "postgres"

    @property
    def kafka_home(self) -> Path:
        return self.home / self.kafka_dir

    @property
    def kafka_data(self) -> Path:
        return self.kafka_home / "data"

    @property
    def kafka_config(self) -> Path:
        return self.kafka_home / "server.properties"

    @property
    def kafka_log4j(self) -> Path:
        return self.kafka_home / "log4j2.xml"

    @property
    def kafka_cluster_id(self) -> Path:
        return self.kafka_home / "cluster.id"

    @property
    def kafka_shape_file(self) -> Path:
        """Which Kafka folder (shape) the running nodes belong to."""
        return self.run / "kafka.shape"

    def kafka_node(self, node: int) -> str:
        """Service name of a Kafka node: `kafka` for node 1, `kafka-<n>` for the others."""
        return "kafka" if node == 1 else f"kafka-{node}"

    def kafka_node_data(self, node: int) -> Path:
        return self.kafka_data if node == 1 else self.kafka_home / f"data-{node}"

    def kafka_node_config(self, node: int) -> Path:
        return self.kafka_config if node == 1 else self.kafka_home / f"server-{node}.properties"

    def kafka_node_log4j(self, node: int) -> Path:
        return self.kafka_log4j if node == 1 else self.kafka_home / f"log4j2-{node}.xml"

    def log(self, service: str) -> Path:
        """The log a developer reads for `service` (`nmc stack logs <service>`)."""
        if service == "postgres" and self.pg_home:
            return self.pg_home / "postgres.log"  # the server writes it as the postgres user
        return self.logs / f"{service}.log"

    def out(self, service: str) -> Path:
        """Where the process' stdout/stderr go; for Kafka log4j2 writes the main log itself."""
        return self.logs / (f"{service}.out" if service.startswith("kafka") else f"{service}.log")

    def pidfile(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    def ensure_dirs(self) -> None:
        for path in (self.cache, self.logs, self.run):
            path.mkdir(parents=True, exist_ok=True)
