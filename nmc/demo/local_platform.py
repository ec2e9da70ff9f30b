"""`LocalPlatform`: every process of NeverMissCall on the local stack, for the demo and the
end-to-end test.

Relay, reactions, SMS sender, the webhook/command service and the read API run as threads
of this process; the three stream apps run as real worker subprocesses (Faust wants its own
event loop). Twilio's Messages API is the loopback `LocalTwilio`. A run gets its own consumer
groups, committed at the current end of the topics before anything starts, so it reacts to
what happens now and never to the topics' history.

On a secured local stack (`nmc stack up --secure`) every process connects as its own principal
(relay, reactor, streams) under the ACLs of `nmc.acl.model`, and to PostgreSQL as its process
role (`nmc.infra.db_roles`: relay, writer for the edge, sender and reactor, streams, read API).
What only the admin may do is done as the admin before anything starts, as `nmc acl apply`
would for a deployment: the run's DLQ and replay topics, and the rules for the run's own
groups (taken back with the run's topics and groups).
"""

from __future__ import annotations

import functools
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from confluent_kafka import Consumer, KafkaException
from pydantic import SecretStr

from nmc.acl.admin import apply_acls, delete_acls
from nmc.acl.model import REACTOR, RELAY, STREAMS, AclEntry, PlanInputs, plan, role_topics
from nmc.demo.cleanup import Removed, remove_run
from nmc.demo.twilio_standin import LocalTwilio
from nmc.infra import tracing
from nmc.infra.consume import end_offsets
from nmc.infra.db import make_engine
from nmc.infra.db_roles import API_ROLE, RELAY_ROLE, STREAMS_ROLE, WRITER_ROLE
from nmc.infra.kafka_clients import admin_config, consumer_config, domain_topics, ensure_topics
from nmc.infra.net import free_port
from nmc.infra.settings import ServiceSettings
from nmc.stack import prometheus
from nmc.stack.layout import Layout
from nmc.stack.prometheus_config import write_targets
from nmc.stack.render import process_role_url
from nmc.stack.secure import ADMIN_USER, client_env, ensure_material
from nmc.stack.settings import StackSettings
from nmc.stack.shape import client_settings
from nmc_streams.api.app import create_app
from nmc_streams.api.settings import ApiSettings
from nmc_streams.settings import StreamSettings
from producers.conversation.reactions.app import run_reactor
from producers.conversation.reactions.consumer import SOURCE_TOPICS
from producers.conversation.reactions.settings import ReactorSettings
from producers.edges.app import create_edge_app
from producers.edges.settings import EdgeSettings
from producers.outbox import OutboxWriter
from producers.outbox.settings import OutboxSettings
from producers.relay.app import run_relay
from producers.relay.settings import RelaySettings
from producers.sender.sender import run_sender
from producers.sender.settings import SenderSettings

STREAM_APPS = ("conversation", "scheduling", "reporting")

def commit_at_end(settings: ServiceSettings, group: str, topics: list[str]) -> None:
    """Give a new consumer group committed offsets at the current end of `topics`."""
    consumer = Consumer(consumer_config(settings, group))
    try:
        consumer.commit(offsets=end_offsets(settings, topics), asynchronous=False)
    finally:
        consumer.close()


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the host process owns the signals
        pass


@dataclass
class LocalPlatform:
    """Start with `with LocalPlatform(settings) as platform:`; everything stops on exit."""

    settings: StackSettings
    log_dir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    twilio_token: str = field(default_factory=lambda: secrets.token_hex(16))
    stripe_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    price_plans: dict[str, str] = field(
        default_factory=lambda: {"price_basic": "basic", "price_pro": "pro"})
    targets_dir: Path | None = None
    """Where the scrape target files go; default: the local stack's Prometheus'."""

    def __post_init__(self) -> None:
        self.twilio = LocalTwilio("AC" + secrets.token_hex(16))
        self.edge_port, self.api_port = free_port(), free_port()
        self.relay_metrics_port, self.sender_metrics_port = free_port(), free_port()
        self.reactor_metrics_port = free_port()
        self.worker_metrics_ports = {app: free_port() for app in STREAM_APPS}
        self._target_files: list[Path] = []
        self.edge_url = f"http://127.0.0.1:{self.edge_port}"
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.edge_settings = EdgeSettings(
            public_base_url=self.edge_url, twilio_auth_token=SecretStr(self.twilio_token),
            stripe_webhook_secret=SecretStr(self.stripe_secret),
            price_plans=self.price_plans,  # type: ignore[arg-type]
            jwt_secret=SecretStr(self.jwt_secret),
        )
        self.sender_settings = SenderSettings(
            public_base_url=self.edge_url, twilio_auth_token=SecretStr(self.twilio_token),
            twilio_api_base=self.twilio.url, twilio_account_sid=self.twilio.account_sid,
            sender_poll_interval_s=0.2, sender_metrics_port=self.sender_metrics_port,
        )
        self.secured = self.settings.uses_local_kafka and self.settings.nmc_stack_secure
        self.api_settings = ApiSettings(jwt_secret=SecretStr(self.jwt_secret),
                                        database_url=SecretStr(self.database_as(API_ROLE)))
        self.streams = StreamSettings(app_id_prefix=f"nmc-demo-{self.run_id}")
        self.reactions_group = f"nmc-demo-{self.run_id}-reactions"
        self.admin = self.as_principal(ADMIN_USER)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._servers: list[_Server] = []
        self._workers: list[subprocess.Popen[bytes]] = []
        self.engine = make_engine(self.settings.database)  # the set-up's (the owner's)
        self.writer_engine = (make_engine(self.database_as(WRITER_ROLE)) if self.secured
                              else self.engine)  # the edges' and the sender's

    def as_principal(self, principal: str) -> StackSettings:
        """The settings a process of this run uses: `principal`'s login on a secured local
        stack, the given settings unchanged on a plain one."""
        return client_settings(self.settings, principal)[0] if self.secured else self.settings

    def database_as(self, role: str) -> str:
        """The database URL of a process: the local stack's process role `role`
        (nmc.infra.db_roles) on a secured stack, the given URL on a plain one."""
        return process_role_url(self.settings.database, role) if self.secured \
            else self.settings.database

    def run_acls(self) -> list[AclEntry]:
        """The rules the run's own groups need beyond the standing set (secured stack only):
        the reactor's and the stream workers' group, DLQ and replay rules, named by run."""
        inputs = PlanInputs(reactor_group=self.reactions_group,
                            streams_prefix=self.streams.app_id_prefix)
        return [e for e in plan(inputs) if e.principal in (REACTOR, STREAMS)
                and self.streams.app_id_prefix in e.name]

    def _grant_run(self) -> None:
        """As the admin: the run's DLQ and replay topics and the rules for its groups (nobody
        else may create a topic or an ACL)."""
        inputs = PlanInputs(reactor_group=self.reactions_group,
                            streams_prefix=self.streams.app_id_prefix)
        ensure_topics(self.admin, role_topics(inputs, list(STREAM_APPS)))
        apply_acls(admin_config(self.admin), self.run_acls(), managed=set())

    def worker_env(self) -> dict[str, str]:
        """The stream workers' environment: this run's cluster, database, home and prefix,
        and on a secured stack the streams principal's login and database role."""
        env = dict(os.environ, NMC_STREAMS_APP_ID_PREFIX=self.streams.app_id_prefix,
                   DATABASE_URL=self.settings.database, KAFKA_BOOTSTRAP_SERVERS=self.settings.kafka,
                   SCHEMA_REGISTRY_URL=self.settings.registry,
                   NMC_HOME=str(self.settings.nmc_home))
        if self.secured:
            env |= client_env(ensure_material(Layout.of(self.settings).home),
                              registry_auth=self.settings.uses_local_registry,
                              principal=STREAMS)
            env["NMC_STREAMS_DATABASE_URL"] = self.database_as(STREAMS_ROLE)
        return env

    # --- lifecycle --------------------------------------------------------------------------
    def _thread(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _serve(self, name: str, app: Any, port: int) -> None:
        server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self._servers.append(server)
        self._thread(name, server.run)

    def start(self, progress: Callable[[str], None] = lambda _m: None) -> LocalPlatform:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # One process hosts the edge, relay, reactor, sender and API here: one service name
        # (the workers are processes of their own and name themselves).
        tracing.configure("nmc-demo")
        if self.secured:
            self._grant_run()
        topics = domain_topics()
        for app in STREAM_APPS:
            commit_at_end(self.as_principal(STREAMS), self.streams.app_id(app), topics)
        reactions = ServiceSettings(**{
            **self.as_principal(REACTOR).service_fields(),
            "database_url": SecretStr(self.database_as(WRITER_ROLE))})
        reactor = ReactorSettings(group=self.reactions_group,
                                  metrics_port=self.reactor_metrics_port)
        commit_at_end(reactions, reactor.group, list(SOURCE_TOPICS))
        env = self.worker_env()
        for app in STREAM_APPS:
            with (self.log_dir / f"worker-{app}.log").open("wb") as log:
                self._workers.append(subprocess.Popen(
                    [sys.executable, "-m", "nmc_streams", app, "--worker-id",
                     f"demo-{self.run_id}", "--metrics-port",
                     str(self.worker_metrics_ports[app])],
                    env=env, stdout=log, stderr=subprocess.STDOUT))
        progress(f"stream workers started ({', '.join(STREAM_APPS)})")
        self.twilio.start()
        relay = RelaySettings(nmc_relay_metrics_port=self.relay_metrics_port,
                              nmc_relay_database_url=SecretStr(self.database_as(RELAY_ROLE)))
        self._thread("relay", run_relay, self.as_principal(RELAY), relay, self._stop)
        react = functools.partial(run_reactor, writer=OutboxWriter.from_settings(
            OutboxSettings(), reactions))
        self._thread("reactor", react, reactions, reactor, self._stop)
        # the edges and the sender write through one writer (its registry lookups shared)
        writer = OutboxWriter.from_settings(OutboxSettings(), self.settings)
        self._thread("sender", run_sender, self.writer_engine, self.sender_settings, self._stop,
                     writer)
        self._serve("edge", create_edge_app(self.edge_settings, self.writer_engine, writer),
                    self.edge_port)
        self._serve("api", create_app(self.api_settings, self.settings), self.api_port)
        self._wait_for_http()
        self._register_targets()
        progress(f"relay, reactions, sender, webhooks ({self.edge_url}) and read API "
                 f"({self.api_url}) running")
        return self

    def _wait_for_http(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        for server in self._servers:
            while not server.started:
                if time.monotonic() > deadline:
                    raise RuntimeError("an HTTP service did not start; see the log above")
                time.sleep(0.05)

    def _register_targets(self) -> None:
        """Tell the local Prometheus (`nmc stack up --observability`) where this run's
        processes serve /metrics; the files go when the run stops."""
        folder = self.targets_dir or prometheus.targets_dir(Layout.of(self.settings))
        name = f"demo-{self.run_id}"
        self._target_files = [
            write_targets(folder, "relay", name, [f"127.0.0.1:{self.relay_metrics_port}"]),
            write_targets(folder, "edge", name, [f"127.0.0.1:{self.edge_port}"]),
            write_targets(folder, "reactor", name, [f"127.0.0.1:{self.reactor_metrics_port}"]),
            write_targets(folder, "sender", name, [f"127.0.0.1:{self.sender_metrics_port}"]),
            write_targets(folder, "api", name, [f"127.0.0.1:{self.api_port}"]),
            write_targets(folder, "streams", name, [
                f"127.0.0.1:{port}" for port in self.worker_metrics_ports.values()]),
        ]

    def workers_alive(self) -> bool:
        return all(w.poll() is None for w in self._workers)

    def stop(self) -> None:
        for path in self._target_files:
            path.unlink(missing_ok=True)
        self._stop.set()
        for server in self._servers:
            server.should_exit = True
        for worker in self._workers:
            worker.terminate()
        for worker in self._workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        for thread in self._threads:
            thread.join(timeout=30)
        self.twilio.stop()
        self.writer_engine.dispose()
        self.engine.dispose()

    def remove_traces(self) -> Removed:
        """Delete this run's topics, consumer groups and table state (after `stop`): a run
        owns them alone, and left behind each run adds four DLQ topics, three changelogs,
        four groups and three state directories to the cluster."""
        removed = remove_run(self.admin, self.streams.app_id_prefix, [
            self.settings.nmc_home / "streams" / app / f"demo-{self.run_id}"
            for app in STREAM_APPS])
        if self.secured:
            try:
                delete_acls(admin_config(self.admin), self.run_acls())
            except KafkaException as exc:
                removed.failed.append(f"the run's ACLs ({exc})")
        return removed

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self.remove_traces()


__all__ = ["STREAM_APPS", "LocalPlatform", "commit_at_end", "free_port"]
