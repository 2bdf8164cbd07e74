"""A private clamd (Debian's clamav-daemon) on a unix socket, knowing one signature: EICAR.

No freshclam and no network: the database is a single body signature (.ndb, target type 0)
that matches the EICAR string anywhere in a scanned stream, inside archives too.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE_IN_DATABASE = "Mukaika.Test.EICAR"
SIGNATURE = f"{SIGNATURE_IN_DATABASE}.UNOFFICIAL"  # clamd's suffix for a signature of an unsigned database
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"  # /usr/sbin is not on a user's PATH on Debian


class Clamd:
    def __init__(self, root: Path) -> None:
        # keep ``root`` short: a unix socket path is limited to 107 bytes
        self.root = root
        self.socket = root / "clamd.sock"
        self.log = root / "clamd.log"
        self.config = root / "clamd.conf"
        database = root / "db"
        database.mkdir(parents=True, exist_ok=True)
        (database / "mukaika-test.ndb").write_text(f"{SIGNATURE_IN_DATABASE}:0:*:{EICAR.hex()}\n")
        self.config.write_text(
            f"LocalSocket {self.socket}\nDatabaseDirectory {database}\nForeground yes\n"
            f"LogFile {self.log}\nPidFile {root / 'clamd.pid'}\nTemporaryDirectory {root}\n"
            "StreamMaxLength 50M\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Clamd:
        if not Path(CLAMD).exists():
            pytest.fail("clamd is not installed (Debian package clamav-daemon; `make test` installs it)")
        self.process = subprocess.Popen(
            [CLAMD, "--foreground", f"--config-file={self.config}"],
            stdout=subprocess.DEVNULL,  # the same lines go to LogFile
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not self.answers_ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"clamd did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def answers_ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(2)
                conn.connect(str(self.socket))
                conn.sendall(b"zPING\0")
                return conn.recv(16) == b"PONG\0"
        except OSError:
            return False

    def __enter__(self) -> Clamd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
