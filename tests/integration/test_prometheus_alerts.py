"""A real Prometheus scrapes real processes and evaluates the project's rules, all read through
Prometheus' own HTTP API: a relay target is up, then `kill -9` makes NmcRelayNoLanesHeld and
NmcTargetDown fire, and a new relay resolves them; a stream worker stopped (SIGTERM) makes
NmcTargetDown fire for job `streams`, and the worker started again resolves it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_support import own_prometheus
from relay_support import spawn_relay
from support.settings import PlatformSettings as Settings
from support.streams import IsolatedTopics, start_worker, stop_worker
from support.waits import wait_until, watch_log

from nmc.infra.net import free_port
from nmc.stack.prometheus_config import ScrapeJob

pytestmark = pytest.mark.fault  # kills a relay, stops a worker, at points the test chose


@pytest.fixture
def relays() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Relay processes the test starts; whatever still runs is killed at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for relay in started:
        if relay.poll() is None:
            relay.kill()
            relay.wait(timeout=30)


def test_relay_down_alerts_fire_then_resolve(
    stack: Settings, database_url: str, tmp_path: Path,
    relays: list[subprocess.Popen[bytes]],
) -> None:
    port = free_port()
    target = f"127.0.0.1:{port}"
    log = watch_log(tmp_path / "relay.log")

    def start_relay() -> None:
        relays.append(spawn_relay(database_url, log, NMC_RELAY_METRICS_PORT=str(port)))

    with own_prometheus(stack, "prometheus-alerts", [ScrapeJob("relay", (target,))]) as prom:
        assert {"NmcRelayNoLanesHeld", "NmcTargetDown", "NmcOutboxParkedRows"} <= (
            prom.rule_names())
        start_relay()

        def healthy() -> bool:
            up = prom.query(f'up{{job="relay",instance="{target}"}} == 1')
            lanes = prom.query("nmc:relay_lanes_held:sum > 0")
            return bool(up and lanes) and prom.alert_state("NmcRelayNoLanesHeld") is None \
                and prom.alert_state("NmcTargetDown", job="relay") is None

        wait_until(healthy, "the relay target up, holding lanes, and no relay alert",
                   explain=prom.summary)

        relays[-1].send_signal(signal.SIGKILL)
        relays[-1].wait(timeout=30)

        def firing() -> bool:
            return prom.alert_state("NmcRelayNoLanesHeld") == "firing" \
                and prom.alert_state("NmcTargetDown", job="relay", instance=target) == "firing"

        wait_until(firing, "NmcRelayNoLanesHeld and NmcTargetDown firing after kill -9",
                   explain=prom.summary)

        start_relay()
        wait_until(healthy, "both alerts resolved once a new relay holds the lanes",
                   explain=prom.summary)


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Stream workers the test starts; whatever still runs is stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for worker in started:
        stop_worker(worker)


def test_stream_worker_stopped_fires_target_down_then_resolves(
    stack: Settings, database_url: str, tmp_path: Path, copies: IsolatedTopics,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    port = free_port()
    target = f"127.0.0.1:{port}"
    prefix = f"alerts-{tmp_path.name[-12:]}"

    def start() -> None:
        workers.append(start_worker(
            "conversation", database_url=database_url, topic_suffix=copies.suffix,
            app_id_prefix=prefix, nmc_home=tmp_path, worker_id="w1", metrics_port=port,
            log_path=tmp_path / "conversation.log"))

    with own_prometheus(stack, "prometheus-alerts", [ScrapeJob("streams", (target,))]) as prom:
        start()

        def healthy() -> bool:
            return bool(prom.query(f'up{{job="streams",instance="{target}"}} == 1')) \
                and prom.alert_state("NmcTargetDown", job="streams") is None

        wait_until(healthy, "the worker's target up and no NmcTargetDown",
                   explain=prom.summary)
        probe = httpx.get(f"http://{target}/healthz", timeout=10)
        assert (probe.status_code, probe.json()) == (200, {"app": "conversation",
                                                         "worker_id": "w1"})
        stop_worker(workers[-1])
        assert workers[-1].returncode is not None
        wait_until(lambda: prom.alert_state("NmcTargetDown", job="streams",
                                            instance=target) == "firing",
                   "NmcTargetDown firing for the stopped worker", explain=prom.summary)
        start()
        wait_until(healthy, "NmcTargetDown resolved once the worker serves again",
                   explain=prom.summary)
