"""A private PostgreSQL cluster (Debian's postgresql), made with initdb and started by the tests.

The cluster lives in a directory of its own under /tmp (PostgreSQL refuses to run as root, so
as root it runs as the postgres user, which pytest's root-only tmp_path would shut out),
listens on a free loopback port and a unix socket in that directory, and is removed by
``stop``. Each test asks for a database of its own (``new_database``) and drops nothing: the
cluster goes as a whole.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
shared_buffers = 32MB
log_min_messages = warning
"""
#: the tests stop the server, they never crash the machine under it
_NOT_DURABLE = "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"


def postgres_bin(program: str) -> Path:
    """``program`` of the newest PostgreSQL Debian installed (under /usr/lib/postgresql/N/bin)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise FileNotFoundError(
            "PostgreSQL is not installed (make bootstrap installs the postgresql package)"
        )
    return versions[-1] / program


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """``root``: a new folder to live in (default: one under /tmp); ``durable``: fsync and
    synchronous commit on, as in a deployment; ``settings``: more lines of postgresql.conf."""

    def __init__(self, root: Path | None = None, *, durable: bool = False, settings: str = "") -> None:
        if root is not None:
            root.mkdir()
        self.root = root or Path(tempfile.mkdtemp(prefix="mukaika-pg-"))
        self.data = self.root / "data"
        self.settings = settings if durable else _NOT_DURABLE + settings
        self.port = _free_port()
        self._counter = 0
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.root.chmod(0o755)

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *args] if self._as_postgres else list(args)
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=timeout)

    def init(self) -> PostgresCluster:
        self._run(str(postgres_bin("initdb")), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8")  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(_SETTINGS.format(port=self.port, socket_dir=self.root) + self.settings)
        return self

    def start(self) -> None:
        self._run(str(postgres_bin("pg_ctl")), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed); the data stays for ``start``."""
        self._run(str(postgres_bin("pg_ctl")), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                  check=False)  # fmt: skip

    def streaming_standby(self) -> PostgresCluster:
        """A new server that streams this (running) one's WAL, made with pg_basebackup; start it
        with ``start``, make it the primary with ``promote``. Durable, as a standby must be."""
        standby = PostgresCluster(durable=True)
        standby._run(str(postgres_bin("pg_basebackup")), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                     "-D", str(standby.data), "--write-recovery-conf", "--wal-method=stream",
                     "--checkpoint=fast")  # fmt: skip
        with (standby.data / "postgresql.conf").open("a") as conf:  # the copy names this server's port
            conf.write(_SETTINGS.format(port=standby.port, socket_dir=standby.root))
        return standby

    def promote(self) -> None:
        """A standby becomes a primary that takes writes."""
        self._run(str(postgres_bin("pg_ctl")), "-D", str(self.data), "-w", "-t", "60", "promote")

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A URL over TCP on loopback (what the nodes of a deployment use)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str = "postgres") -> str:
        """A URL over the cluster's unix socket."""
        return f"postgresql://postgres@/{database}?host={self.root}&port={self.port}"

    def new_database(self, label: str = "test") -> str:
        """A fresh, empty database; returns its URL."""
        self._counter += 1
        name = f"{label}_{os.getpid()}_{self._counter}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
