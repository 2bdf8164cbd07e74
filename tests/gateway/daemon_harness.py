"""Runs the real daemon (`mukaika run`) as a subprocess on temporary directories."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from gateway.vault import Vault

MUKAIKA = Path(sys.executable).parent / "mukaika"
REPOSITORY = Path(__file__).resolve().parents[2]


#: The rules of the test gateways: a few kinds rebuilt, executables refused.
RULES = """
[rules.png]
method = "rebuild"
[rules.jpeg]
method = "rebuild"
[rules.pdf]
method = ["rebuild", "image"]
[rules.txt]
method = "rebuild"
[rules.zip]
method = "rebuild"
[rules.exe]
method = "reject"
"""


def png_bytes(colour: tuple[int, int, int] = (200, 30, 30), text: str = "") -> bytes:
    """A small PNG, optionally with a tEXt comment (metadata the sanitiser must drop)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def process_alive(pid: int) -> bool:
    """Running and not a zombie (a zombie is dead, only not yet reaped by its parent)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


class RunningGateway:
    def __init__(self, root: Path, *, settle: float = 0.3, workers: int = 2, rescan: float = 2.0,
                 extra: str = "", channel_extra: str = "", clamav: str = "", http: str = "",
                 hostile_entry: str = "", wrapper: tuple[str, ...] = (), smtp: str = "",
                 pass_fds: tuple[int, ...] = ()) -> None:  # fmt: skip
        self.root = root
        #: a worker entry point that replaces the real sanitiser (tests.gateway.hostile_daemon)
        self.hostile_entry = hostile_entry
        self.wrapper = wrapper  # a command the daemon is started through (it execs the rest)
        self.pass_fds = pass_fds  # kept open for the wrapper (a socket it passes on as systemd does)
        self.inbox, self.outbox, self.rejected = root / "in", root / "out", root / "rejected"
        self.spool = root / "spool"
        self.config = root / "mukaika.toml"
        self.log = root / "daemon.log"
        self.config.write_text(
            f"""
[gateway]
spool_dir = "{self.spool}"
workers = {workers}
settle_seconds = {settle}
rescan_seconds = {rescan}
shutdown_timeout_seconds = 10
log_format = "json"
embedded_rules = false
{extra}
[clamav]
{clamav}
[http]
{http}
[smtp]
{smtp}
{RULES}[[channels]]
name = "test"
inbox = "{self.inbox}"
outbox = "{self.outbox}"
rejected = "{self.rejected}"
{channel_extra}
"""
        )
        self.process: subprocess.Popen[bytes] | None = None

    def create_folders(self) -> None:
        """The channel's folders: the gateway refuses a folder its config names that is not there."""
        for folder in (self.inbox, self.outbox, self.rejected):
            folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> RunningGateway:
        self.create_folders()
        command = [str(MUKAIKA), "run", "--config", str(self.config)]
        if self.hostile_entry:
            command = [
                sys.executable,
                "-m",
                "tests.gateway.hostile_daemon",
                str(self.config),
                self.hostile_entry,
            ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([*self.wrapper, *command], stdout=log, stderr=subprocess.STDOUT,
                                            cwd=REPOSITORY, pass_fds=self.pass_fds)  # fmt: skip
        self.wait_for(lambda: "gateway started" in self.log_text(), 30, "start-up")
        return self

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def __enter__(self) -> RunningGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.stop()

    def original_bytes(self, encrypted: Path) -> bytes:
        """Decrypt a retained original (named by its transfer id) with the spool's key."""
        vault = Vault.open(self.spool / "originals.key")
        with encrypted.open("rb") as reader:
            out = io.BytesIO()
            vault.decrypt(reader, out, encrypted.name)
        return out.getvalue()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"daemon exited ({self.process.returncode}) waiting for {what}:\n{self.log_text()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; log:\n{self.log_text()[-4000:]}")

    def files(self, directory: Path) -> list[str]:
        """Visible files below ``directory`` (our hidden temp names excluded), relative, sorted."""
        if not directory.exists():
            return []
        return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")
                      if p.is_file() and not p.name.startswith("."))  # fmt: skip

    def wait_for_outputs(self, released: int, rejected: int, timeout: float = 60) -> None:
        """Wait for files in the outbox and reason files in rejected/.

        A file lands there a moment before its transfer's final state is committed, its
        original retained and its log line written: before asserting on any of those, wait
        for them too (``wait_for_states``, ``wait_for_transfer_lines``).
        """

        def done() -> bool:
            reasons = [f for f in self.files(self.rejected) if f.endswith(".reason.txt")]
            return len(self.files(self.outbox)) >= released and len(reasons) >= rejected

        self.wait_for(done, timeout, f"{released} released and {rejected} rejected")

    def journal_states(self) -> list[str]:
        """Every transfer's journal state, sorted; read-only, as the daemon may be writing."""
        path = self.spool / "journal.sqlite"
        if not path.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            return sorted(state for (state,) in db.execute("SELECT state FROM transfers"))

    def wait_for_states(self, *states: str, timeout: float = 60) -> None:
        """Wait until the journal holds exactly one transfer per item of ``states``, in those states."""
        expected = sorted(states)
        self.wait_for(lambda: self.journal_states() == expected, timeout, f"journal states {expected}")

    def transfer_lines(self) -> list[dict[str, object]]:
        """The canonical log lines (``"event": "transfer"``) written so far, in order."""
        complete = self.log_text().split("\n")[:-1]  # a line being written is read next time
        lines = [json.loads(line) for line in complete if line.startswith("{")]
        return [line for line in lines if line.get("event") == "transfer"]

    def wait_for_transfer_lines(self, count: int, timeout: float = 60) -> None:
        """Wait for ``count`` canonical lines: a transfer writes its line last, after its original is kept."""
        self.wait_for(lambda: len(self.transfer_lines()) >= count, timeout, f"{count} transfer log lines")
