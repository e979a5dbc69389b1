"""nats-server processes that tests own: free loopback ports, their own store, and signals
sent only to the processes started here (never to a server found by name)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.live import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def nats_binary() -> str:
    found = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)
    if found is None:
        message = "nats-server is not installed (Debian: apt-get install nats-server)"
        if IN_CI:
            pytest.fail(f"{message}; CI must run every test against the real server")
        pytest.skip(message)
    return found


@dataclass
class NatsServer:
    """One nats-server with JetStream; `kill`, `stop`, `start` act on this process only."""

    workdir: Path
    name: str = "n1"
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    cluster_port: int | None = None
    routes: list[int] = field(default_factory=list)
    cluster_name: str = "carelog-test"
    jetstream: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def config(self) -> Path:
        store = self.workdir / f"{self.name}-store"
        lines = [f'server_name: "{self.name}"', f'listen: "127.0.0.1:{self.port}"',
                 f'http: "127.0.0.1:{self.monitor_port}"']
        if self.jetstream:
            lines.append(f'jetstream {{ store_dir: "{store}" }}')
        if self.cluster_port is not None:
            routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in self.routes)
            lines += ["cluster {", f'  name: "{self.cluster_name}"',
                      f'  listen: "127.0.0.1:{self.cluster_port}"', f"  routes: [{routes}]", "}"]
        path = self.workdir / f"{self.name}.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, wait: bool = True) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        log = (self.workdir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen([nats_binary(), "-c", str(self.config())],
                                        stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError((self.workdir / f"{self.name}.log").read_text()[-2000:])
            try:
                health = "/healthz?js-enabled-only=true" if self.jetstream else "/healthz"
                with urllib.request.urlopen(f"{self.monitor_url}{health}",
                                            timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"nats-server {self.name} did not become healthy")

    def varz(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.monitor_url}/varz", timeout=5) as response:
            return dict(json.load(response))

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(20)


@dataclass
class NatsCluster:
    """Three nats-servers routed to each other: a JetStream cluster with R3 streams."""

    nodes: list[NatsServer]

    @classmethod
    def of(cls, workdir: Path, size: int = 3) -> NatsCluster:
        cluster_ports = [free_port() for _ in range(size)]
        nodes = [NatsServer(workdir, name=f"n{i + 1}", cluster_port=cluster_ports[i],
                            routes=[p for j, p in enumerate(cluster_ports) if j != i])
                 for i in range(size)]
        return cls(nodes)

    @property
    def url(self) -> str:
        return ",".join(n.url for n in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait_ready(timeout=60)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
