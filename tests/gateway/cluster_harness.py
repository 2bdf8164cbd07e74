"""Several nodes as separate processes on one private PostgreSQL and one spool.

Each node is a real `mukaika run` (gateway) or `mukaika worker` process with a config file of
its own that differs only in ``[cluster] node``; they share the journal's database, the spool
and the channels' folders, as nodes mounting one NAS would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

from gateway.cluster.ownership import channel_owners
from tests.gateway.daemon_harness import MUKAIKA, REPOSITORY
from tests.gateway.invariants import GatewayDirs

#: Short beats, so that the tests see a lost node's work taken over within seconds.
CLUSTER_TIMING = """
heartbeat_seconds = 1
stalled_seconds = 4
takeover_seconds = 0.5
"""

RULES = """
[rules.png]
method = "rebuild"
[rules.jpeg]
method = "rebuild"
[rules.pdf]
method = ["rebuild", "image"]
[rules.txt]
method = "rebuild"
[rules.exe]
method = "reject"
"""


class Node:
    """One node's process, its config file and its log."""

    def __init__(self, cluster: Cluster, role: str, name: str, workers: int) -> None:
        self.role, self.name = role, name
        self.config = cluster.root / f"{name}.toml"
        self.log = cluster.root / f"{name}.log"
        channels = "".join(
            f'[[channels]]\nname = "{c}"\ninbox = "{d.inbox}"\noutbox = "{d.outbox}"\nrejected = "{d.rejected}"\n'
            for c, d in cluster.channels.items()
        )
        self.config.write_text(
            f"""
[gateway]
spool_dir = "{cluster.spool}"
workers = {workers}
settle_seconds = 0.3
rescan_seconds = 2
shutdown_timeout_seconds = 10
log_format = "json"
embedded_rules = false
[journal]
url = "{cluster.url}"
[cluster]
node = "{name}"
{CLUSTER_TIMING}
{RULES}
{channels}
""",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        with self.log.open("ab") as log:
            command = [
                str(MUKAIKA),
                "run" if self.role == "gateway" else "worker",
                "--config",
                str(self.config),
            ]
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPOSITORY)
        started = "gateway started" if self.role == "gateway" else "worker node started"
        self.wait_for(lambda: started in self.log_text(), 60, "start-up")
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye to PostgreSQL, no cleanup (its workers die with it)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def stop(self, timeout: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_lines(self) -> Iterator[dict[str, object]]:
        for line in self.log_text().split("\n")[:-1]:
            if line.startswith("{"):
                yield json.loads(line)

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}) waiting for {what}:\n"
                                     f"{self.log_text()[-4000:]}")  # fmt: skip
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: timed out waiting for {what}; log:\n{self.log_text()[-4000:]}")


class Cluster:
    """Gateway and worker nodes on one database (``url``) and one spool below ``root``."""

    def __init__(self, root: Path, url: str, channels: tuple[str, ...] = ("east", "west")) -> None:
        self.root, self.url = root, url
        self.spool = root / "spool"
        self.channels = {
            name: GatewayDirs(
                self.spool,
                root / name / "in",
                root / name / "out",
                root / name / "rejected",
                journal_url=url,
                channel=name,
            )
            for name in channels
        }
        for dirs in self.channels.values():
            for folder in (dirs.inbox, dirs.outbox, dirs.rejected):
                folder.mkdir(parents=True, exist_ok=True)
        self.nodes: list[Node] = []

    def add(self, role: str, name: str, workers: int = 1) -> Node:
        node = Node(self, role, name, workers)
        self.nodes.append(node)
        return node

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.kill()
                node.process.wait(10)
                node.process = None

    def states(self) -> list[str]:
        with psycopg.connect(self.url) as connection:
            return sorted(str(state) for (state,) in connection.execute("SELECT state FROM transfers"))

    def owners(self) -> dict[str, str]:
        with psycopg.connect(self.url) as connection:
            return channel_owners(connection, self.channels)

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except psycopg.OperationalError:  # the server stopped by the test
                pass
            time.sleep(0.1)
        logs = "\n".join(f"--- {n.name}\n{n.log_text()[-3000:]}" for n in self.nodes)
        raise AssertionError(f"timed out waiting for {what}\n{logs}")

    def wait_until_final(self, count: int, timeout: float = 120) -> None:
        def final() -> bool:
            states = self.states()
            return len(states) >= count and all(s in ("released", "rejected") for s in states)

        self.wait_for(final, timeout, f"{count} transfers released or rejected")
