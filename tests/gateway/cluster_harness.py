"""Several nodes as separate processes on one private PostgreSQL and one spool.

Each node is a real `mukaika run` (gateway) or `mukaika worker` process with a config file of
its own that differs only in ``[cluster] node``; they share the journal's database, the spool
and the channels' folders, as nodes mounting one NAS would.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from gateway.cluster.ownership import channel_owners
from tests.gateway.daemon_harness import MUKAIKA, REPOSITORY, RULES, process_alive
from tests.gateway.invariants import GatewayDirs, inbox_name, no_loss_violations

#: Short beats, so that the tests see a lost node's work taken over within seconds.
CLUSTER_TIMING = """
heartbeat_seconds = 1
stalled_seconds = 4
takeover_seconds = 0.5
"""


#: procrastinate's line when a worker node begins a job (its logger is named after the node)
_STARTING_JOB = re.compile(r"Starting job mukaika\.sanitise\[(\d+)\]")


def node_command(role: str, config: Path) -> list[str]:
    """The command line of a node of ``role`` ("gateway" or "worker") on ``config``."""
    return [str(MUKAIKA), "run" if role == "gateway" else "worker", "--config", str(config)]


class Node:
    """One node's process, its config file and its log."""

    def __init__(self, cluster: Cluster, role: str, name: str, workers: int, extra: str = "") -> None:
        self.role, self.name = role, name
        self.log_start = 0  # where this run's lines begin in the log (a restarted node appends)
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
{cluster.extra_rules}
{extra}
{channels}
""",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        return self.spawn().wait_started()

    def spawn(self) -> Node:
        """Start the process without waiting for it to be ready (``wait_started``)."""
        assert self.process is None, f"{self.name} is running"
        self.log_start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                node_command(self.role, self.config), stdout=log, stderr=subprocess.STDOUT, cwd=REPOSITORY
            )
        return self

    def wait_started(self, timeout: float = 60) -> Node:
        started = "gateway started" if self.role == "gateway" else "worker node started"
        self.wait_for(lambda: started in self.log_text(current_run=True), timeout, "start-up")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def alive(self) -> bool:
        """Started by us, not exited (and not a zombie)."""
        return self.process is not None and self.process.poll() is None and process_alive(self.process.pid)

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

    def log_text(self, current_run: bool = False) -> str:
        """The log (of every run, or from the current run's first line)."""
        if not self.log.exists():
            return ""
        data = self.log.read_bytes()
        return (data[self.log_start :] if current_run else data).decode(errors="replace")

    def log_lines(self, current_run: bool = False) -> Iterator[dict[str, object]]:
        """The JSON lines of the log (of every run, or only of the current one)."""
        for line in self.log_text(current_run).split("\n")[:-1]:
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except ValueError:  # cut short by a SIGKILL, the next run's first line after it
                    continue

    def events(self, event: str) -> list[dict[str, object]]:
        """This node's log lines (of every run) whose event is ``event``."""
        return [line for line in self.log_lines() if line.get("event") == event]

    def started_jobs(self, current_run: bool = False) -> list[int]:
        """The ids of the sanitise jobs this worker node began (procrastinate's "Starting job")."""
        return [
            int(match.group(1))
            for line in self.log_lines(current_run)
            if line.get("logger_name") == f"procrastinate.worker.{self.name}"
            and (match := _STARTING_JOB.match(str(line.get("event", "")))) is not None
        ]

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

    def __init__(
        self, root: Path, url: str, channels: tuple[str, ...] = ("east", "west"), extra_rules: str = ""
    ) -> None:
        self.root, self.url = root, url
        self.extra_rules = extra_rules  # more [rules.*] tables for every node
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

    def add(self, role: str, name: str, workers: int = 1, extra: str = "") -> Node:
        """A node of ``role`` ("gateway" or "worker"); ``extra`` is TOML added to its config alone."""
        node = Node(self, role, name, workers, extra)
        self.nodes.append(node)
        return node

    def start(self, *nodes: Node) -> None:
        """Start ``nodes`` together and wait until each is ready."""
        for node in nodes:
            node.spawn()
        for node in nodes:
            node.wait_started()

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.kill()
                node.process.wait(10)
                node.process = None

    def states(self) -> list[str]:
        with psycopg.connect(self.url) as connection:
            return sorted(str(state) for (state,) in connection.execute("SELECT state FROM transfers"))

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=dict_row) as connection:
            return connection.execute(sql, params).fetchall()

    def transfers(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The journal's transfer rows (of one channel), oldest first."""
        rows = self.rows("SELECT * FROM transfers ORDER BY created, id")
        return [row for row in rows if channel is None or row["channel"] == channel]

    def running_jobs(self) -> list[dict[str, Any]]:
        """Jobs in ``doing``: their id, transfer id and procrastinate worker id."""
        return self.rows(
            "SELECT id, args->>'transfer_id' AS transfer_id, worker_id FROM procrastinate_jobs"
            " WHERE status = 'doing' ORDER BY id"
        )

    def violations(
        self, expected: Mapping[str, Mapping[str, str]], *, canary: bytes | None = None,
        tolerated: Collection[str] = (),
    ) -> list[str]:  # fmt: skip
        """The no-loss invariant of every channel, each problem prefixed with its channel's name."""
        return [
            f"{name}: {problem}"
            for name, dirs in self.channels.items()
            for problem in no_loss_violations(
                dirs, expected.get(name, {}), canary=canary, tolerated=tolerated
            )
        ]

    def owners(self, channels: Collection[str] = ()) -> dict[str, str]:
        """channel → the gateway node holding its lock (the channels' folders, or ``channels``)."""
        with psycopg.connect(self.url) as connection:
            return channel_owners(connection, channels or self.channels)

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

    def wait_until_placed(self, expected: Mapping[str, Mapping[str, str]], timeout: float = 120) -> None:
        """Until every expected input (channel → inbox name → verdict) has a transfer, every
        transfer is released or rejected, and the spool holds no work (each one tidied)."""
        wanted = {(channel, name) for channel, names in expected.items() for name in names}

        def placed() -> bool:
            rows = self.transfers()
            if any(row["state"] not in ("released", "rejected") for row in rows):
                return False
            if not wanted <= {(row["channel"], inbox_name(row)) for row in rows}:
                return False
            return not any(
                p.exists() and any(p.iterdir()) for p in (self.spool / "incoming", self.spool / "work")
            )

        self.wait_for(placed, timeout, f"{len(wanted)} inputs released or rejected and tidied")
