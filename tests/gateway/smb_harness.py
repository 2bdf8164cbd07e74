"""A private Samba server (Debian's smbd) exporting one folder on a loopback port, and a client.

smbd runs in the foreground as a child of the test, with every directory it writes (locks,
state, pid, cache, private, ncalrpc) and its password database under a temporary folder, so
it touches nothing of the machine's own Samba. The share is written as the current user, who
logs in with a password set only in that private database: guest sessions cannot sign, and
Windows refuses unsigned guest logons by default anyway.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import smbclient
from smbprotocol.file_info import FileAttributes

SMBD = Path("/usr/sbin/smbd")
SHARE = "inbox"
PASSWORD = "mukaika-test-Pw1"  # lives only in the test's own passdb


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SambaServer:
    def __init__(self, root: Path, share_path: Path) -> None:
        self.root = root
        self.share_path = share_path
        self.port = free_port()
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.config = root / "smb.conf"
        self.log = root / "smbd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        dirs = {name: self.root / name for name in ("lock", "state", "pid", "cache", "private", "ncalrpc")}
        for directory in dirs.values():
            directory.mkdir(parents=True, exist_ok=True)
        self.config.write_text(f"""
[global]
server role = standalone server
smb ports = {self.port}
interfaces = 127.0.0.1
bind interfaces only = yes
disable netbios = yes
lock directory = {dirs["lock"]}
state directory = {dirs["state"]}
pid directory = {dirs["pid"]}
cache directory = {dirs["cache"]}
private dir = {dirs["private"]}
ncalrpc dir = {dirs["ncalrpc"]}
passdb backend = tdbsam:{dirs["private"]}/passdb.tdb
log file = {self.root}/log.smbd
load printers = no
printcap name = /dev/null
disable spoolss = yes
server min protocol = SMB2_10

[{SHARE}]
path = {self.share_path}
read only = no
valid users = {self.user}
force user = {self.user}
""")

    def start(self) -> SambaServer:
        if not SMBD.exists():  # make test installs Debian samba; without it this test cannot prove anything
            raise AssertionError(f"{SMBD} is missing: run `make test` (as root it installs samba)")
        self.write_config()
        subprocess.run(["smbpasswd", "-c", str(self.config), "-a", "-s", self.user],
                       input=f"{PASSWORD}\n{PASSWORD}\n".encode(), check=True, capture_output=True)  # fmt: skip
        with self.log.open("ab") as log:  # a foreground smbd stops when its stdin closes: keep a pipe open
            self.process = subprocess.Popen(
                [str(SMBD), "--foreground", "--no-process-group", "--debug-stdout", "-s", str(self.config)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self._wait_until_listening(20)
        smbclient.register_session("127.0.0.1", username=self.user, password=PASSWORD, port=self.port)
        return self

    def _wait_until_listening(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"smbd exited ({self.process.returncode}):\n{self.log.read_text()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"smbd did not listen on {self.port}:\n{self.log.read_text()}")

    def stop(self) -> None:
        smbclient.reset_connection_cache()
        if self.process is None:
            return
        # smbd forks a child per client; they share the session we gave the parent
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.communicate(timeout=10)  # also closes its stdin
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> SambaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self) -> ShareClient:
        return ShareClient(self.port)


class ShareClient:
    """What Windows clients do to a share, through smbprotocol's high-level ``smbclient``."""

    def __init__(self, port: int) -> None:
        self.port = port

    def unc(self, relative: str) -> str:
        return "\\".join([rf"\\127.0.0.1\{SHARE}", *relative.split("/")])

    def makedirs(self, relative: str) -> None:
        smbclient.makedirs(self.unc(relative), exist_ok=True, port=self.port)

    def write_slowly(self, relative: str, data: bytes, *, chunk: int, pause: float,
                     preallocate: bool = False, hidden: bool = False) -> None:  # fmt: skip
        """Create, write in flushed chunks with a pause after each, close.

        ``preallocate`` sets the end of file to the final size first, as Explorer does: the
        size then never changes while the bytes arrive, only the modification time does.
        """
        attributes = FileAttributes.FILE_ATTRIBUTE_HIDDEN if hidden else FileAttributes.FILE_ATTRIBUTE_NORMAL
        with smbclient.open_file(self.unc(relative), mode="wb", file_attributes=attributes,
                                 port=self.port) as remote:  # fmt: skip
            if preallocate:
                remote.truncate(len(data))
            for start in range(0, len(data), chunk):
                remote.write(data[start : start + chunk])
                remote.flush()
                time.sleep(pause)

    def rename(self, source: str, target: str) -> None:
        smbclient.rename(self.unc(source), self.unc(target), port=self.port)

    def remove(self, relative: str) -> None:
        smbclient.remove(self.unc(relative), port=self.port)

    def set_mtime(self, relative: str, mtime: float) -> None:
        smbclient.utime(self.unc(relative), times=(mtime, mtime), port=self.port)

    @contextmanager
    def held_open(self, relative: str, data: bytes = b"") -> Iterator[None]:
        """A file kept open while something else happens (Word's ``~$`` owner file)."""
        with smbclient.open_file(self.unc(relative), mode="wb", share_access="r",
                                 file_attributes=FileAttributes.FILE_ATTRIBUTE_HIDDEN, port=self.port) as remote:  # fmt: skip
            remote.write(data)
            remote.flush()
            yield
