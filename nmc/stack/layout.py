"""Where everything of the local stack lives on disk: one tree under `settings.nmc_home`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nmc.infra.settings import Settings


@dataclass(frozen=True)
class Layout:
    """Paths of the local stack; keeping them in one place keeps `down` able to find `up`'s work."""

    home: Path
    kafka_dir: str = "kafka"

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        """One Kafka folder per stack shape (a quorum cannot be re-formatted in place)."""
        kafka_dir = "kafka" + ("-secure" if settings.nmc_stack_secure else "")
        if settings.nmc_stack_brokers > 1:
            kafka_dir += f"-{settings.nmc_stack_brokers}"
        return cls(home=Path(settings.nmc_home).resolve(), kafka_dir=kafka_dir)

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
        return self.home / "postgres" / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.run / "postgres"

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
        return self.logs / f"{service}.log"

    def out(self, service: str) -> Path:
        """Where the process' stdout/stderr go; for Kafka log4j2 writes the main log itself."""
        return self.logs / (f"{service}.out" if service.startswith("kafka") else f"{service}.log")

    def pidfile(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    def ensure_dirs(self) -> None:
        for path in (self.cache, self.logs, self.run):
            path.mkdir(parents=True, exist_ok=True)
