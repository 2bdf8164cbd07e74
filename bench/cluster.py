"""Several nodes: their CPU and throughput against one node, and the job queue's own throughput.

    .venv/bin/python bench/cluster.py [--files 200] [--jobs 2000] [--runs 3]
                                      [--only nodes|queue] [--no-fsync] [--profile] [--keep]

Everything runs on this machine: a private PostgreSQL (initdb in the run folder, as the
postgres user when run as root, loopback TCP; fsync and synchronous_commit on as in a
deployment unless ``--no-fsync``) and the nodes as real `mukaika run` / `mukaika worker`
processes. Ctrl-C or SIGTERM stops them and the server; the run folder (configs, logs,
database) is removed unless ``--keep``.

1. The same mixed files (bench/daemon.py's ``mixed_inputs``: 12 MP photos, 4-30 page PDFs,
   text notices, executables), written next to the inbox and then renamed in all at once, into
   (a) one node: `mukaika run` on its SQLite journal with ``[gateway] workers = 2``;
   (b) a cluster: one gateway node (``workers = 2``: as many transfers in flight as (a)) and
       two worker nodes with ``workers = 1`` each, on one PostgreSQL database, with the same
       spool and folder layout and the default [cluster] timings.
   The runs alternate (a, b, a, b, …), each in fresh folders (and a fresh database); medians
   of ``--runs`` are reported. Measured from the first rename until the gateway has logged an
   outcome for every file: the wall time and the CPU spent. Start-up is not counted; before
   the drop each configuration idles for 10 s, which gives its CPU and PostgreSQL load at rest.

   CPU is read from /proc/<pid>/stat: utime + stime of a process (all its threads) plus
   cutime + cstime (the descendants it has waited for), plus the same of its live children
   (/proc/<pid>/task/*/children), recursively; so a node's figure holds its zygote, confined
   workers and verifiers. PostgreSQL's CPU is the same sum over the postmaster: its own, its
   reaped children's (backends that ended, finished autovacuum workers) and each live child's
   (backends, checkpointer, walwriter, autovacuum launcher). Backends come and go, so the
   difference of this cumulative sum before and after is what the server spent, however many
   processes it had meanwhile. A live backend is attributed to the node whose connection it
   serves (its client port matched against the node's sockets in /proc/<pid>/fd and
   /proc/net/tcp); the rest (postmaster, background processes, ended backends) is the
   server's own. The bench's own monitoring connection is left out. The "rest" ratio takes
   the sanitising's CPU (zygotes, workers, verifiers: the same work in (a) and (b), and the
   noisiest part) as equal and adds only the difference of everything else.
   PostgreSQL's load per file: pg_stat_database (xact_commit, sessions), pg_stat_user_tables
   (n_tup_ins/upd/del) and pg_current_wal_lsn(), read before the drop and after the last
   outcome plus a pause of 11 s (an idle backend reports its statistics up to 10 s late),
   the pause's share at the rate at rest taken off.

2. The job queue with a no-op job (procrastinate on a fresh database with ``ensure_schema``
   per measure, autovacuum off for the queue's table so that its statistics stay as set up):
   (a) ``--jobs`` jobs deferred one per transaction as a gateway does (``enqueue`` inside
       ``connection.transaction()`` on one psycopg connection);
   (b) drained by one procrastinate worker in this process as the worker nodes' app
       (``queue_app(worker_node=…)``: ``enable_bitmapscan=off``), ``delete_jobs="successful"``,
       ``wait=False``, at concurrency 1, 4 and 8; then at concurrency 4 with that app and
       with a default connector, in three states of the queue table's statistics: never
       analysed (a new database), analysed empty after a vacuum (a quiet hour), and analysed
       empty while the table still has the pages of an earlier burst (analysed, not yet
       vacuumed);
   (c) deferring (another process) and draining (concurrency 4) at once, end to end.
   Each row gives jobs/s and the CPU per job of PostgreSQL and of this process.

``--profile`` (needs `.venv/bin/pip install py-spy`) also samples each node's main process
with py-spy while it holds the GIL, and times PostgreSQL's statements with
pg_stat_statements; it prints both for the median runs (their CPU includes the sampling).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import procrastinate
import psycopg
from daemon import RULES, mixed_inputs

from gateway.cluster.jobs import QUEUE, SANITISE_TASK, enqueue, ensure_schema, queue_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the private server of the tests
from tests.gateway.cluster_harness import node_command
from tests.postgres_harness import PostgresCluster, postgres_bin

PY_SPY = Path(sys.executable).parent / "py-spy"  # --profile: `.venv/bin/pip install py-spy`
HZ = os.sysconf("SC_CLK_TCK")
#: An idle backend sends its pending statistics up to 10 s later (PostgreSQL's
#: PGSTAT_IDLE_INTERVAL): waited for after start-up and after the last outcome.
STATS_FLUSH_SECONDS = 11.0
SETTLE_SECONDS = STATS_FLUSH_SECONDS  # after "started": the zygotes' preload, start-up's statistics
IDLE_SECONDS = 10.0  # the window measuring a configuration at rest
RUN_TIMEOUT = 1800.0

PG_STATEMENTS = "shared_preload_libraries = 'pg_stat_statements'\n"  # --profile: time per statement


# ── CPU from /proc ────────────────────────────────────────────────────────────────────────
def _stat(pid: int) -> tuple[float, float] | None:
    """(own, reaped descendants) CPU seconds of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / HZ, (int(fields[13]) + int(fields[14])) / HZ


def _children(pid: int) -> list[int]:
    """The live children of a process, whichever of its threads started them."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                found += [int(child) for child in (task / "children").read_text().split()]
    return found


def own_cpu(pid: int) -> float:
    stat = _stat(pid)
    return 0.0 if stat is None else stat[0]


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants, live and reaped. The children are
    read first: one that ends meanwhile then shows in the parent's cutime, not nowhere."""
    below = sum(tree_cpu(child) for child in _children(pid))
    stat = _stat(pid)
    return below + (0.0 if stat is None else sum(stat))


def socket_ports(pid: int, remote_port: int) -> set[int]:
    """Local ports of the process's TCP connections to ``remote_port`` on this machine."""
    inodes = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = str(fd.readlink())
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                parts = line.split()
                local, remote, inode = parts[1], parts[2], parts[9]
                if inode in inodes and int(remote.rpartition(":")[2], 16) == remote_port:
                    ports.add(int(local.rpartition(":")[2], 16))
    return ports


# ── PostgreSQL ────────────────────────────────────────────────────────────────────────────
class Postgres(PostgresCluster):
    """The private server of tests.postgres_harness, with what this benchmark reads of its CPU."""

    @property
    def statements(self) -> bool:
        """pg_stat_statements is loaded (--profile)."""
        return PG_STATEMENTS in self.settings

    def postmaster(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def cpu(self) -> float:
        return tree_cpu(self.postmaster())

    def processes(self) -> tuple[float, dict[int, float]]:
        """The postmaster's own and reaped children's CPU, and each live child's (tree)."""
        children = {child: tree_cpu(child) for child in _children(self.postmaster())}
        stat = _stat(self.postmaster())
        return (0.0 if stat is None else sum(stat)), children


# ── nodes ─────────────────────────────────────────────────────────────────────────────────
class Node:
    """A `mukaika run` or `mukaika worker` process with its config and JSON log."""

    def __init__(self, folder: Path, name: str, role: str, config: str) -> None:
        self.name, self.role = name, role
        self.config = folder / f"{name}.toml"
        self.config.write_text(config, encoding="utf-8")
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0
        self._partial = b""
        self.verdicts: Counter[str] = Counter()

    def start(self) -> Node:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                node_command(self.role, self.config),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_started(self, timeout: float = 120) -> None:
        started = "gateway started" if self.role == "gateway" else "worker node started"
        deadline = time.monotonic() + timeout
        while started not in self.log.read_text(errors="replace"):
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start within {timeout} s:\n{self.tail()}")
            time.sleep(0.05)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def outcomes(self) -> int:
        """How many transfers the gateway has logged final, reading only what is new."""
        with self.log.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if b'"event": "transfer"' in line:
                self.verdicts[str(json.loads(line).get("verdict"))] += 1
        return sum(self.verdicts.values())

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        with contextlib.suppress(ProcessLookupError):  # whatever of its session outlived it
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.process = None


LIVE_NODES: list[Node] = []  # killed on the way out, whatever happened


def node_config(root: Path, workers: int, url: str | None = None, node: str | None = None) -> str:
    rules = "".join(f"[rules.{t}]\nmethod = {json.dumps(list(r.methods))}\n" for t, r in RULES.items())
    cluster = f'[journal]\nurl = "{url}"\n[cluster]\nnode = "{node}"\n' if url else ""
    return (
        f'[gateway]\nspool_dir = "{root / "spool"}"\nworkers = {workers}\nsettle_seconds = 0.2\n'
        f'rescan_seconds = 5\nlog_format = "json"\n{cluster}{rules}'
        f'[[channels]]\nname = "bench"\ninbox = "{root / "in"}"\noutbox = "{root / "out"}"\n'
        f'rejected = "{root / "rej"}"\n'
    )


# ── one run of table 1 ────────────────────────────────────────────────────────────────────
@dataclass
class DbStats:
    commits: int
    sessions: int
    wal: int  # bytes since the cluster's start
    tuples: dict[str, tuple[int, int, int]]  # table → inserted, updated, deleted


@dataclass
class Snapshot:
    at: float
    nodes: dict[str, tuple[float, float]]  # node → (its main process, its whole tree)
    server: tuple[float, dict[int, float]] | None = None  # Postgres.processes()
    owners: dict[int, str] = field(default_factory=dict)  # backend pid → node (or "bench")


@dataclass
class RunResult:
    kind: str
    elapsed: float
    verdicts: dict[str, int]
    cpu: dict[str, float]  # part → CPU seconds during the run
    idle: dict[str, float]  # part → CPU seconds per second at rest
    load: dict[str, float] = field(default_factory=dict)  # PostgreSQL load during the run
    idle_load: dict[str, float] = field(default_factory=dict)  # the same per second at rest
    tables: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    statements: list[tuple[float, float, str]] = field(default_factory=list)  # --profile: calls, ms, query
    profiles: list[Path] = field(default_factory=list)  # --profile: py-spy's files

    @property
    def total(self) -> float:
        return sum(self.cpu.values())


class Monitor:
    """The bench's one connection to the run's database: statistics and backend owners."""

    def __init__(self, pg: Postgres, url: str, nodes: list[Node]) -> None:
        self.pg, self.nodes = pg, nodes
        self.connection = psycopg.connect(url, autocommit=True, application_name="bench-monitor")
        row = self.connection.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        self.pid = int(row[0])
        if pg.statements:
            self.connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def reset_statements(self) -> None:
        self.connection.execute("SELECT pg_stat_statements_reset()")

    def statements(self) -> list[tuple[float, float, str]]:
        """The statements run in the run's database, longest first: calls, ms, text."""
        rows = self.connection.execute(
            "SELECT calls, total_exec_time, query FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND query NOT LIKE '%pg_stat%' ORDER BY total_exec_time DESC"
        ).fetchall()
        return [(float(calls), float(total), " ".join(str(query).split())) for calls, total, query in rows]

    def owners(self) -> dict[int, str]:
        ports = {port: node.name for node in self.nodes for port in socket_ports(node.pid, self.pg.port)}
        rows = self.connection.execute("SELECT pid, client_port FROM pg_stat_activity WHERE client_port > 0")
        owners = {int(pid): ports[port] for pid, port in rows if port in ports}
        owners[self.pid] = "bench"
        return owners

    def stats(self) -> DbStats:
        with self.connection.transaction():  # one snapshot of the statistics, one commit counted
            row = self.connection.execute(
                "SELECT xact_commit, sessions, pg_current_wal_lsn()::text FROM pg_stat_database"
                " WHERE datname = current_database()"
            ).fetchone()
            assert row is not None
            tables = self.connection.execute(
                "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
            ).fetchall()
        high, _, low = str(row[2]).partition("/")
        wal = (int(high, 16) << 32) + int(low, 16)
        return DbStats(
            int(row[0]), int(row[1]), wal, {str(t[0]): (int(t[1]), int(t[2]), int(t[3])) for t in tables}
        )

    def close(self) -> None:
        self.connection.close()


def snapshot(nodes: list[Node], pg: Postgres | None = None, monitor: Monitor | None = None) -> Snapshot:
    taken = Snapshot(time.perf_counter(), {n.name: (own_cpu(n.pid), tree_cpu(n.pid)) for n in nodes})
    if pg is not None and monitor is not None:
        taken.owners = monitor.owners()
        taken.server = pg.processes()
    return taken


def cpu_between(before: Snapshot, after: Snapshot, nodes: list[Node]) -> dict[str, float]:
    """CPU seconds per part between two snapshots (PostgreSQL split by the node it serves)."""
    parts: dict[str, float] = {}
    for node in nodes:
        main = after.nodes[node.name][0] - before.nodes[node.name][0]
        tree = after.nodes[node.name][1] - before.nodes[node.name][1]
        parts[f"{node.name}: main process"] = main
        parts[f"{node.name}: zygote, workers, verifiers"] = tree - main
    if before.server is not None and after.server is not None:
        total = (
            after.server[0]
            + sum(after.server[1].values())
            - before.server[0]
            - sum(before.server[1].values())
        )
        attributed: dict[str, float] = {}
        for pid, cpu in after.server[1].items():
            owner = after.owners.get(pid, before.owners.get(pid))
            if owner is not None:
                attributed[owner] = attributed.get(owner, 0.0) + cpu - before.server[1].get(pid, 0.0)
        bench = attributed.pop("bench", 0.0)
        for owner, cpu in attributed.items():
            parts[f"PostgreSQL: backends of {owner}"] = cpu
        parts["PostgreSQL: postmaster, background, ended backends"] = total - bench - sum(attributed.values())
    return parts


def load_between(
    before: DbStats, after: DbStats
) -> tuple[dict[str, float], dict[str, tuple[float, float, float]]]:
    inserted = updated = deleted = 0
    tables: dict[str, tuple[float, float, float]] = {}
    for name, (i, u, d) in after.tuples.items():
        i0, u0, d0 = before.tuples.get(name, (0, 0, 0))
        tables[name] = (i - i0, u - u0, d - d0)
        inserted, updated, deleted = inserted + i - i0, updated + u - u0, deleted + d - d0
    load = {
        "transactions committed": after.commits - before.commits - 1,  # the monitor's own snapshot
        "sessions opened": after.sessions - before.sessions,
        "rows inserted": inserted,
        "rows updated": updated,
        "rows deleted": deleted,
        "WAL bytes": after.wal - before.wal,
    }
    return {k: float(v) for k, v in load.items()}, tables


def start_profiles(root: Path, nodes: list[Node]) -> list[subprocess.Popen[bytes]]:
    """py-spy sampling each node's main process (all its threads, busy samples only) into the run folder."""
    samplers = []
    for node in nodes:
        command = [str(PY_SPY), "record", "--pid", str(node.pid), "--rate", "200", "--nonblocking", "--gil",
                   "--format", "raw", "--output", str(root / f"profile-{node.name}.txt")]  # fmt: skip
        samplers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.0)  # attached
    return samplers


def stage_inputs(inputs: list[tuple[str, bytes]], root: Path) -> Path:
    staging = root / "staging"
    staging.mkdir()
    for name, data in inputs:
        (staging / name).write_bytes(data)
    return staging


def run_configuration(
    kind: str, inputs: list[tuple[str, bytes]], root: Path, pg: Postgres | None = None, profile: bool = False
) -> RunResult:
    """One run: (a) ``kind == "single"`` or (b) ``kind == "cluster"``, in fresh folders below ``root``."""
    root.mkdir()
    for folder in ("in", "out", "rej"):
        (root / folder).mkdir()
    staging = stage_inputs(inputs, root)
    monitor: Monitor | None = None
    if kind == "single":
        gateway = Node(root, "gateway", "gateway", node_config(root, 2))
        nodes = [gateway]
    else:
        assert pg is not None
        url = pg.new_database("cluster")
        gateway = Node(root, "gateway", "gateway", node_config(root, 2, url, "gateway"))
        nodes = [gateway] + [Node(root, f"worker-{n}", "worker", node_config(root, 1, url, f"worker-{n}"))
                             for n in (1, 2)]  # fmt: skip
    try:
        for node in nodes:  # the gateway first: it creates the journal's and the queue's tables
            LIVE_NODES.append(node.start())
            node.wait_started()
        if kind == "cluster":
            assert pg is not None
            monitor = Monitor(pg, url, nodes)
        time.sleep(SETTLE_SECONDS)
        rest = snapshot(nodes, pg, monitor)
        rest_stats = monitor.stats() if monitor else None
        time.sleep(IDLE_SECONDS)
        start_stats = monitor.stats() if monitor else None
        samplers = start_profiles(root, nodes) if profile else []
        if monitor is not None and pg is not None and pg.statements:
            monitor.reset_statements()
        start = snapshot(nodes, pg, monitor)
        for name, _ in inputs:
            (staging / name).rename(root / "in" / name)
        deadline = time.monotonic() + RUN_TIMEOUT
        while gateway.outcomes() < len(inputs):
            for node in nodes:
                node.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{kind}: {gateway.outcomes()} of {len(inputs)} outcomes in {RUN_TIMEOUT} s"
                )
            time.sleep(0.1)
        end = snapshot(nodes, pg, monitor)
        for sampler in samplers:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its file and ends
            sampler.wait(60)
        profiles = [root / f"profile-{node.name}.txt" for node in nodes] if profile else []
        result = RunResult(
            kind,
            end.at - start.at,
            dict(gateway.verdicts),
            cpu_between(start, end, nodes),
            {part: cpu / (start.at - rest.at) for part, cpu in cpu_between(rest, start, nodes).items()},
            profiles=profiles,
        )
        if monitor is not None and rest_stats is not None and start_stats is not None:
            time.sleep(STATS_FLUSH_SECONDS)
            end_stats = monitor.stats()
            if pg is not None and pg.statements:
                result.statements = monitor.statements()
            result.load, result.tables = load_between(start_stats, end_stats)
            idle, _ = load_between(rest_stats, start_stats)
            result.idle_load = {k: v / (start.at - rest.at) for k, v in idle.items()}
            # the pause for the statistics is idle time too: counted at the idle rate, then taken off
            pause = time.perf_counter() - end.at
            for key in result.load:
                result.load[key] -= result.idle_load[key] * pause
        return result
    finally:
        if monitor is not None:
            monitor.close()
        for node in nodes:
            node.stop()
            if node in LIVE_NODES:
                LIVE_NODES.remove(node)


# ── table 2: the queue alone ──────────────────────────────────────────────────────────────
@dataclass
class QueueRow:
    label: str
    jobs: int
    seconds: float
    pg_cpu: float
    client_cpu: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


def queue_database(pg: Postgres, label: str) -> str:
    url = pg.new_database(label)
    ensure_schema(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ALTER TABLE procrastinate_jobs SET (autovacuum_enabled = off)")
    return url


def defer_jobs(url: str, count: int, prefix: str) -> float:
    """Defer ``count`` jobs one transaction each, as a gateway stages transfers; the seconds taken."""
    app = queue_app(url)
    with psycopg.connect(url, autocommit=True) as connection:
        started = time.perf_counter()
        for n in range(count):
            with connection.transaction():
                enqueue(app, connection, f"{prefix}-{n:06}")
        return time.perf_counter() - started


def measured_defer(pg: Postgres, url: str, count: int, label: str) -> QueueRow:
    cpu, client = pg.cpu(), time.process_time()
    seconds = defer_jobs(url, count, label)
    return QueueRow(label, count, seconds, pg.cpu() - cpu, time.process_time() - client)


def worker_app(url: str, bitmapscan_off: bool, done: list[int]) -> procrastinate.App:
    """The worker nodes' app (``queue_app(worker_node=…)``), or one on the default planner."""
    if bitmapscan_off:
        app = queue_app(url, worker_node="bench")
    else:
        connector = procrastinate.PsycopgConnector(conninfo=url, kwargs={"application_name": "bench-default"})
        app = procrastinate.App(connector=connector)

    @app.task(name=SANITISE_TASK, queue=QUEUE)
    async def noop(transfer_id: str) -> None:
        done[0] += 1

    return app


async def _drain(url: str, concurrency: int, bitmapscan_off: bool) -> tuple[float, int]:
    done = [0]
    app = worker_app(url, bitmapscan_off, done)
    async with app.open_async():
        started = time.perf_counter()
        await app.run_worker_async(queues=[QUEUE], concurrency=concurrency, delete_jobs="successful",
                                   wait=False, install_signal_handlers=False)  # fmt: skip
        return time.perf_counter() - started, done[0]


def measured_drain(pg: Postgres, url: str, concurrency: int, bitmapscan_off: bool, label: str) -> QueueRow:
    cpu, client = pg.cpu(), time.process_time()
    seconds, done = asyncio.run(_drain(url, concurrency, bitmapscan_off))
    row = QueueRow(label, done, seconds, pg.cpu() - cpu, time.process_time() - client)
    with psycopg.connect(url) as connection:
        left = connection.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()
    if left is None or left[0]:
        raise RuntimeError(f"{label}: {left} jobs left after the drain")
    return row


async def _end_to_end(url: str, count: int, concurrency: int) -> tuple[float, int]:
    done = [0]
    app = worker_app(url, True, done)
    deferrer = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--defer-into", url, "--jobs", str(count),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert deferrer.stdin is not None and deferrer.stdout is not None
    try:
        if await deferrer.stdout.readline() != b"ready\n":  # imported and connected: the clock starts at "go"
            raise RuntimeError(f"the deferring process failed ({await deferrer.wait()})")
        async with app.open_async():
            worker = asyncio.create_task(app.run_worker_async(
                queues=[QUEUE], concurrency=concurrency, delete_jobs="successful", wait=True,
                install_signal_handlers=False, fetch_job_polling_interval=1.0,
            ))  # fmt: skip
            await asyncio.sleep(0.5)  # the worker listens before the first job comes
            started = time.perf_counter()
            deferrer.stdin.write(b"go\n")
            await deferrer.stdin.drain()
            deadline = time.monotonic() + RUN_TIMEOUT
            while done[0] < count:
                if worker.done():
                    await worker  # raises what stopped it
                if deferrer.returncode not in (None, 0) or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"end to end: {done[0]} of {count} jobs (deferrer: {deferrer.returncode})"
                    )
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        await deferrer.wait()
        return elapsed, done[0]
    finally:
        if deferrer.returncode is None:
            deferrer.kill()
            await deferrer.wait()


def measured_end_to_end(pg: Postgres, url: str, count: int, concurrency: int) -> QueueRow:
    cpu, client = pg.cpu(), time.process_time()
    seconds, done = asyncio.run(_end_to_end(url, count, concurrency))
    label = f"(c) defer (another process) + drain (concurrency {concurrency}) at once, end to end"
    return QueueRow(label, done, seconds, pg.cpu() - cpu, time.process_time() - client)


def defer_into(url: str, count: int) -> None:
    """The deferring process of (c): ready, then ``go`` on stdin, then ``count`` jobs."""
    app = queue_app(url)
    with psycopg.connect(url, autocommit=True) as connection:
        print("ready", flush=True)
        sys.stdin.readline()
        for n in range(count):
            with connection.transaction():
                enqueue(app, connection, f"e2e-{n:06}")


NEW_TABLE = "never analysed (a new table)"
QUIET_HOUR = "analysed empty and vacuumed (a quiet hour)"
BETWEEN_BURSTS = "analysed empty, not vacuumed (an earlier burst's pages)"


def statistics_state(url: str, state: str, count: int) -> None:
    """Put the queue table's statistics in ``state`` before the measured jobs are deferred."""
    with psycopg.connect(url, autocommit=True) as connection:
        if state == QUIET_HOUR:  # autovacuum removed the last burst's rows, truncated, analysed
            connection.execute("VACUUM ANALYZE procrastinate_jobs")
        elif state == BETWEEN_BURSTS:  # analysed once the last burst's jobs were deleted, not vacuumed
            defer_jobs(url, count, "earlier")
            connection.execute("DELETE FROM procrastinate_jobs")
            connection.execute("ANALYZE procrastinate_jobs")


def median_row(rows: list[QueueRow]) -> QueueRow:
    """The row of the median time, labelled with how many it was chosen from."""
    row = sorted(rows, key=lambda r: r.seconds)[len(rows) // 2]
    label = f"{row.label} (median of {len(rows)})" if len(rows) > 1 else row.label
    return QueueRow(label, row.jobs, row.seconds, row.pg_cpu, row.client_cpu)


def queue_table(pg: Postgres, count: int, repeats: int) -> list[QueueRow]:
    """Table 2. Each measure on a fresh database; the slow drains on the default planner once."""
    defers: list[QueueRow] = []

    def filled(label: str, state: str = NEW_TABLE) -> str:
        url = queue_database(pg, label)
        statistics_state(url, state, count)
        defers.append(measured_defer(pg, url, count, "(a) defer, one job per transaction"))
        return url

    drains = []
    for concurrency in (1, 4, 8):
        label = f"(b) drain, concurrency {concurrency}"
        drains.append(median_row([measured_drain(pg, filled("drain"), concurrency, True, label)
                                  for _ in range(repeats)]))  # fmt: skip
    both = median_row([measured_end_to_end(pg, queue_database(pg, "e2e"), count, 4) for _ in range(repeats)])
    planners = []
    for state in (NEW_TABLE, QUIET_HOUR, BETWEEN_BURSTS):
        for off in (True, False):
            planner = "enable_bitmapscan=off (worker nodes)" if off else "default planner"
            label = f"(b) drain, concurrency 4, {planner}; statistics {state}"
            planners.append(measured_drain(pg, filled("planner", state), 4, off, label))
    return [median_row(defers), *drains, both, *planners]


# ── output ────────────────────────────────────────────────────────────────────────────────
def median_run(runs: list[RunResult]) -> RunResult:
    return sorted(runs, key=lambda r: r.total)[len(runs) // 2]


def ms(seconds: float, files: int) -> str:
    return f"{seconds / files * 1000 + 0.0:.1f}".replace("-0.0", "0.0")


def group(parts: dict[str, float]) -> dict[str, float]:
    """The parts of table 1's breakdown, both worker nodes summed."""
    grouped: dict[str, float] = {}
    for part, cpu in parts.items():
        name = part.replace("worker-1", "worker nodes").replace("worker-2", "worker nodes")
        grouped[name] = grouped.get(name, 0.0) + cpu
    return grouped


def sandboxed(run: RunResult) -> float:
    """CPU seconds of the run in zygotes, confined workers and verifiers (the sanitising itself)."""
    return sum(cpu for part, cpu in run.cpu.items() if part.endswith("zygote, workers, verifiers"))


def print_table_1(single: list[RunResult], cluster: list[RunResult], files: int, megabytes: float) -> None:
    print(f"\n## 1. One node against a cluster: {files} mixed files ({megabytes:.0f} MB) dropped at once, "
          f"median of {len(single)} / {len(cluster)} runs\n")  # fmt: skip
    print("| measure | (a) one node: SQLite, workers = 2 | (b) gateway + 2 worker nodes × 1, PostgreSQL |")
    print("|---|---|---|")
    both = (single, cluster)
    wall = [statistics.median(r.elapsed for r in runs) for runs in both]
    cpu = [statistics.median(r.total for r in runs) for runs in both]
    inside = [statistics.median(sandboxed(r) for r in runs) for runs in both]
    outside = [statistics.median(r.total - sandboxed(r) for r in runs) for runs in both]
    print(f"| wall time | {wall[0]:.1f} s | {wall[1]:.1f} s |")
    print(f"| files/s | {files / wall[0]:.2f} | {files / wall[1]:.2f} |")
    print(f"| CPU per file | {ms(cpu[0], files)} ms | {ms(cpu[1], files)} ms |")
    print(f"| of which sanitising: zygotes, confined workers, verifiers | {ms(inside[0], files)} ms | "
          f"{ms(inside[1], files)} ms |")  # fmt: skip
    print(f"| of which the rest: node main processes, PostgreSQL | {ms(outside[0], files)} ms | "
          f"{ms(outside[1], files)} ms |")  # fmt: skip
    cells = [", ".join(f"{r.elapsed:.1f} s / {ms(r.total, files)} ms" for r in runs) for runs in both]
    print(f"| each run: wall / CPU per file | {cells[0]} | {cells[1]} |")
    outcomes = []
    for runs in both:
        verdicts = Counter[str]()
        for r in runs:
            verdicts.update(r.verdicts)
        outcomes.append(", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())))
    print(f"| outcomes, all runs | {outcomes[0]} | {outcomes[1]} |")
    ratio = cpu[1] / cpu[0]
    print(f"\nCPU per file, cluster / one node: **{ratio:.2f}** "
          f"(target ≤ 1.15: {'met' if ratio <= 1.15 else 'NOT met'})")  # fmt: skip
    print(f"The same with the sanitising's CPU taken as equal (the rest's difference over (a)'s total): "
          f"{1 + (outside[1] - outside[0]) / cpu[0]:.2f}")  # fmt: skip
    print(f"files/s, cluster / one node: {wall[0] / wall[1]:.2f}")
    typical = median_run(cluster)
    parts = group(typical.cpu)
    postgres = sum(v for k, v in parts.items() if k.startswith("PostgreSQL"))
    gateway = sum(v for k, v in parts.items() if k.startswith("gateway"))
    workers = sum(v for k, v in parts.items() if k.startswith("worker nodes"))
    main = parts.get("worker nodes: main process", 0.0)
    print(f"Share of the cluster's CPU (its median run): PostgreSQL {postgres / typical.total:.1%}, "
          f"gateway node {gateway / typical.total:.1%}, worker nodes {workers / typical.total:.1%} "
          f"(their main processes {main / typical.total:.1%})")  # fmt: skip

    print(
        "\nWhere the CPU goes, ms per file (the median run of each; at rest: % of one core before the drop)\n"
    )
    print("| part | (a) one node | (b) cluster | (a) at rest | (b) at rest |\n|---|---|---|---|---|")
    one, many = group(median_run(single).cpu), parts
    one_idle, many_idle = group(median_run(single).idle), group(typical.idle)
    for part in dict.fromkeys([*one, *many]):
        cells = [f"{ms(c[part], files)}" if part in c else "–" for c in (one, many)]
        rest = [f"{ms(c[part], 10)} %" if part in c else "–" for c in (one_idle, many_idle)]
        print(f"| {part} | {cells[0]} | {cells[1]} | {rest[0]} | {rest[1]} |")
    print(f"| **total** | {ms(sum(one.values()), files)} | {ms(sum(many.values()), files)} | "
          f"{sum(one_idle.values()) * 100:.1f} % | {sum(many_idle.values()) * 100:.1f} % |")  # fmt: skip

    print(
        "\nPostgreSQL load per file (cluster, median of the runs; the pause for the statistics taken off at the rest rate)\n"
    )
    print("| measure | per file | at rest, per second |\n|---|---|---|")
    for key in cluster[0].load:
        value = statistics.median(r.load[key] for r in cluster) / files
        at_rest = statistics.median(r.idle_load[key] for r in cluster)
        unit = " B" if key == "WAL bytes" else ""
        print(f"| {key} | {value:,.1f}{unit} | {at_rest:,.2f}{unit} |")
    print("\nRows written per file by table (median run): inserted / updated / deleted\n")
    print("| table | inserted | updated | deleted |\n|---|---|---|---|")
    for table, (i, u, d) in sorted(typical.tables.items()):
        if i or u or d:
            print(f"| {table} | {i / files:.2f} | {u / files:.2f} | {d / files:.2f} |")


#: The frames below every sample of a node (its start): not what it was doing.
ROOT_FRAMES = (
    "<module> (mukaika",
    "main (gateway/cli.py",
    "run_daemon (gateway/",
    "run_worker_node (gateway/",
)
FILE_FRAMES = ("gateway/spool", "gateway/vault", "gateway/fsutil", "shutil.py", "sha256_of")
#: What a sample of a node's main process was doing: the first pattern found in its stack, in this order.
CATEGORIES = (
    ("logging (structlog, logging)", ("structlog/", "logging/")),
    ("journal (gateway/journal*, psycopg under it)", ("gateway/journal",)),
    ("confined workers' pool (gateway/isolation)", ("gateway/isolation",)),
    ("files: stage, hash, place, encrypt, remove", FILE_FRAMES),
    ("inbox watch (watchdog)", ("watchdog/",)),
    ("other gateway code (transfer steps, daemon, intake)", ("gateway/", "sanitizers/")),
    ("job queue (procrastinate, its psycopg)", ("procrastinate/", "psycopg_pool/")),
    ("psycopg, other", ("psycopg/",)),
    ("event loop, thread hand-offs, other", ("",)),
)


def print_profile(run: RunResult, files: int, top: int = 15) -> None:
    """--profile: where the nodes' main processes held the GIL, and PostgreSQL's statements."""
    print(f"\n{run.kind}: samples of the main processes while they held the GIL (py-spy, 200 Hz), "
          f"as ms per file of all {files}\n")  # fmt: skip
    names = [path.stem.removeprefix("profile-") for path in run.profiles]
    print(f"| what | {' | '.join(names)} |\n|---|{'---|' * len(names)}")
    counts: list[Counter[str]] = []
    for path in run.profiles:
        found: Counter[str] = Counter()
        for line in path.read_text().splitlines() if path.exists() else []:
            stack, _, samples = line.rpartition(" ")
            frames = ";".join(f for f in stack.split(";") if not f.startswith(ROOT_FRAMES))
            category = next(name for name, patterns in CATEGORIES if any(p in frames for p in patterns))
            found[category] += int(samples)
        counts.append(found)
    for name, _ in CATEGORIES:
        print(f"| {name} | {' | '.join(f'{c[name] / 200 / files * 1000:.2f}' for c in counts)} |")
    print(f"| **all** | {' | '.join(f'{c.total() / 200 / files * 1000:.2f}' for c in counts)} |")
    if run.statements:
        calls = sum(c for c, _, _ in run.statements)
        spent = sum(t for _, t, _ in run.statements)
        ends = sum(c for c, _, q in run.statements if q.upper() in ("BEGIN", "COMMIT", "ROLLBACK"))
        print(f"\n{run.kind}: PostgreSQL's statements (pg_stat_statements): {calls / files:.1f} per file "
              f"({ends / files:.1f} of them BEGIN/COMMIT), {spent / files:.2f} ms per file executing; "
              f"the {top} longest in all\n")  # fmt: skip
        print("| calls per file | ms per file | mean ms | statement |\n|---|---|---|---|")
        for count, total_ms, query in run.statements[:top]:
            print(f"| {count / files:.2f} | {total_ms / files:.3f} | {total_ms / max(count, 1):.3f} | "
                  f"`{query[:140]}` |")  # fmt: skip


def print_table_2(rows: list[QueueRow], count: int) -> None:
    print(f"\n## 2. The job queue alone: {count} no-op jobs through procrastinate (target ≥ 200 jobs/s)\n")
    print("| phase | jobs/s | PostgreSQL CPU per job | this process's CPU per job |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row.label} | {row.rate:.0f} | {row.pg_cpu / row.jobs * 1000:.2f} ms | "
              f"{row.client_cpu / row.jobs * 1000:.2f} ms |")  # fmt: skip


# ── main ──────────────────────────────────────────────────────────────────────────────────
def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=200, help="mixed files per run of table 1")
    parser.add_argument("--jobs", type=int, default=2000, help="no-op jobs per measure of table 2")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of each configuration; of each quick queue measure"
    )
    parser.add_argument("--only", choices=("nodes", "queue"), help="only table 1 or table 2")
    parser.add_argument(
        "--no-fsync", action="store_true", help="PostgreSQL with fsync and synchronous_commit off"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the nodes with py-spy, time PostgreSQL's statements (implies --keep)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folder (logs, configs, database)")
    parser.add_argument("--defer-into", metavar="URL", help=argparse.SUPPRESS)  # the deferrer of 2(c)
    args = parser.parse_args()
    args.keep = args.keep or args.profile
    logging.getLogger("procrastinate").setLevel(logging.ERROR)  # "App instantiated in __main__"
    if args.defer_into:
        defer_into(args.defer_into, args.jobs)
        return 0
    signal.signal(signal.SIGTERM, _terminated)
    root = Path(tempfile.mkdtemp(prefix="mukaika-bench-cluster-"))
    root.chmod(0o755)  # the postgres user reaches its folder through it
    pg = Postgres(
        root / "postgres", durable=not args.no_fsync, settings=PG_STATEMENTS if args.profile else ""
    )
    try:
        pg.init().start()
        print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
              f"PostgreSQL {postgres_bin('postgres').parent.parent.name} "
              f"({'fsync off' if args.no_fsync else 'fsync and synchronous_commit on'}); run folder {root}")  # fmt: skip
        if args.only != "queue":
            inputs = mixed_inputs(args.files)
            megabytes = sum(len(data) for _, data in inputs) / 1e6
            single: list[RunResult] = []
            cluster: list[RunResult] = []
            for n in range(args.runs):
                for kind, runs in (("single", single), ("cluster", cluster)):
                    result = run_configuration(kind, inputs, root / f"{kind}-{n + 1}", pg, args.profile)
                    runs.append(result)
                    print(f"({kind} run {n + 1}: {result.elapsed:.1f} s, {ms(result.total, args.files)} ms CPU "
                          f"per file)", flush=True)  # fmt: skip
            print_table_1(single, cluster, args.files, megabytes)
            if args.profile:
                print("\n## Profiles (--profile; these runs' CPU includes the sampling's cost)")
                for run in (median_run(single), median_run(cluster)):
                    print_profile(run, args.files)
        if args.only != "nodes":
            print_table_2(queue_table(pg, args.jobs, args.runs), args.jobs)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        for node in LIVE_NODES:
            node.kill()
        pg.stop()
        if args.keep:
            print(f"kept: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
