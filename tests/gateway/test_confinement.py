"""A parser taken over by a hostile file, inside a real worker of the real daemon, stays inside.

The daemon here is `mukaika run` with one change made through the isolation provider
interface: its sanitising workers run an entry point of tests.gateway.hostile_workers
instead of the sanitiser. Everything else (zygote, confinement, verifier, journal, release)
is production code.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.isolation.confinement import FULL
from gateway.isolation.job import Job
from gateway.isolation.provider import PRODUCTION_ENTRY_POINTS, ZygoteProvider
from sanitizers.base import Limits
from sanitizers.convert import soffice_path
from sanitizers.pipeline import Rule
from tests.gateway import hostile_workers
from tests.gateway.daemon_harness import REPOSITORY, RunningGateway, process_alive

#: What the kernel answers each attack with: Landlock refuses files (EACCES) and links
#: across its walls (EXDEV); seccomp refuses calls (EPERM); Landlock's scopes refuse
#: signals to processes outside (EPERM); the process limit stops a fork bomb (EAGAIN).
EXPECTED = {
    "write its own input": "EACCES",
    "truncate its own input": "EACCES",
    "move its own input into scratch": "EACCES",  # no right to remove it from the spool
    "read originals key": "EACCES",
    "list spool": "EACCES",
    "read another transfer": "EACCES",
    "write outbox": "EACCES",
    "write inbox": "EACCES",
    "open journal for writing": "EACCES",
    "append to config": "EACCES",
    "write /tmp": "EACCES",
    "list source checkout": "EACCES",
    "exec /bin/sh": "EACCES",
    "exec a program written into scratch": "EACCES",
    "exec the python interpreter": "EACCES",
    "symlink out of scratch": "EACCES",
    "hard link the config into scratch": "EXDEV",
    "ptrace the zygote": "EPERM",
    "write the zygote's memory": "EACCES",
    "signal the zygote": "EPERM",
    "signal the daemon": "EPERM",
    "connect to the daemon's socket": "EPERM",
    "datagram to the daemon's socket": "EPERM",
    "reach the network": "EPERM",
    "new user namespace": "EPERM",
    "anonymous executable file": "EPERM",
    "change personality": "EPERM",
    "fork bomb": "EAGAIN",
    "run the converter": "succeeded",  # the one program a worker may start
}


def journal_row(gateway: RunningGateway, name: str) -> sqlite3.Row:
    db = sqlite3.connect(f"{(gateway.spool / 'journal.sqlite').as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        row = db.execute("SELECT * FROM transfers WHERE name = ?", (name,)).fetchone()
    finally:
        db.close()
    assert row is not None
    return row


def test_a_hostile_parser_in_the_daemon_cannot_escape(tmp_path: Path) -> None:
    converter = soffice_path()
    assert converter is not None, "LibreOffice is installed by make's bootstrap"
    status_socket = tmp_path / "status.sock"
    gateway = RunningGateway(tmp_path, workers=1, http=f'listen = "unix:{status_socket}"',
                             extra="[limits]\nworker_processes = 32",  # each fork of a warm worker costs
                             hostile_entry=f"{hostile_workers.__name__}:escapes")  # fmt: skip
    other_staged = gateway.spool / "incoming" / "20260101T000000-0badf00d"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    with gateway:
        other_staged.write_bytes(b"another office's file")
        config_before = gateway.config.read_bytes()
        assert gateway.process is not None
        targets = {
            "spool": str(gateway.spool), "key": str(gateway.spool / "originals.key"),
            "other_staged": str(other_staged), "outbox": str(gateway.outbox), "inbox": str(gateway.inbox),
            "config": str(gateway.config), "checkout": str(REPOSITORY), "daemon_pid": gateway.process.pid,
            "daemon_socket": str(status_socket), "tcp_port": listener.getsockname()[1], "converter": converter,
        }  # fmt: skip
        (gateway.inbox / "targets.txt").write_text(json.dumps(targets))
        gateway.wait_for_outputs(released=0, rejected=1, timeout=120)
        found = json.loads(journal_row(gateway, "targets.txt")["reason_message"])
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody came
        assert gateway.process.poll() is None  # the daemon is still running
    listener.close()
    assert found == EXPECTED
    assert gateway.files(gateway.outbox) == [] and gateway.files(gateway.inbox) == []
    assert gateway.config.read_bytes() == config_before
    assert not Path("/tmp/mukaika-escaped.txt").exists()


@pytest.mark.parametrize(
    ("entry", "name", "content"),
    [
        ("forges_pdf_as_text", "forge.txt", b"plain text"),
        ("forges_pdf", "report.pdf", hostile_workers.FORGED_PDF),
    ],
)
def test_a_forged_output_and_a_forged_release_release_nothing(
    tmp_path: Path, entry: str, name: str, content: bytes
) -> None:
    gateway = RunningGateway(tmp_path, workers=1, hostile_entry=f"{hostile_workers.__name__}:{entry}")
    with gateway:
        (gateway.inbox / name).write_bytes(content)
        gateway.wait_for_states("rejected")  # the reason file lands a moment before this commits
        row = journal_row(gateway, name)
        log = gateway.log_text()
    assert gateway.files(gateway.outbox) == []
    assert (row["state"], row["reason_code"]) == ("rejected", "verify.failed")
    assert '"level": "error"' in log and "refused by its verification" in log


def test_what_a_worker_leaves_behind_is_dead_when_its_end_is_reported(tmp_path: Path) -> None:
    staged = tmp_path / "input"
    staged.write_bytes(b"x")
    job = Job("t1", staged, "x.txt", tmp_path / "work", {"txt": Rule(("rebuild",))}, Limits())
    entry = f"{hostile_workers.__name__}:leaves_a_daemon_behind"
    provider = ZygoteProvider(1, FULL, (*PRODUCTION_ENTRY_POINTS, entry), sanitise_entry=entry)

    async def main() -> None:
        async with provider.slot():
            await provider.sanitise(job)
        await provider.close()

    asyncio.run(main())
    orphan = int((job.work_dir / "pids.txt").read_text())
    assert not process_alive(orphan), "the double-forked, setsid orphan outlived its worker"


KILLED_DAEMON = """
import asyncio, sys
from pathlib import Path
from gateway.isolation.job import Job
from gateway.isolation.provider import PRODUCTION_ENTRY_POINTS, ZygoteProvider
from sanitizers.base import Limits
from tests.gateway import hostile_workers
root = Path(sys.argv[1])
(root / "input").write_bytes(b"x")
entry = hostile_workers.__name__ + ":starts_the_converter_and_waits"
provider = ZygoteProvider(1, "full", PRODUCTION_ENTRY_POINTS + (entry,), sanitise_entry=entry)
asyncio.run(provider.run(Job("t1", root / "input", "x.txt", root / "work", {}, Limits())))
"""


def test_libreoffice_dies_with_a_daemon_killed_by_sigkill(tmp_path: Path) -> None:
    daemon = subprocess.Popen([sys.executable, "-c", KILLED_DAEMON, str(tmp_path)], cwd=REPOSITORY)
    pids_file = tmp_path / "work" / "pids.txt"
    try:
        deadline = time.monotonic() + 60
        while not pids_file.exists():
            assert time.monotonic() < deadline and daemon.poll() is None, (
                "the worker never started LibreOffice"
            )
            time.sleep(0.05)
        worker, office = (int(p) for p in pids_file.read_text().split())
        time.sleep(1.0)  # LibreOffice well under way
        assert process_alive(office)
    finally:
        daemon.kill()
        daemon.wait()
    deadline = time.monotonic() + 10
    while (process_alive(worker) or process_alive(office)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(worker) and not process_alive(office)


def test_embedded_fonts_are_rewritten_inside_the_walls(tmp_path: Path) -> None:
    """Embedded fonts go through the OpenType Sanitizer, in the confined worker itself."""
    from tests.sanitizers import pdf_builders

    staged = pdf_builders.save(
        pdf_builders.embedded_font_document(pdf_builders.TRUETYPE_FONT.read_bytes(), "Kept"), tmp_path / "in"
    )
    job = Job("t1", staged, "font.pdf", tmp_path / "work", {"pdf": Rule(("rebuild",))}, Limits())
    result = asyncio.run(ZygoteProvider(1).run(job))
    assert (result.verdict, result.method, result.reason_code) == ("released", "rebuild", None)
    assert result.output_path is not None
    [program] = pdf_builders.font_programs(result.output_path)
    assert program != pdf_builders.TRUETYPE_FONT.read_bytes()  # rewritten by OTS, not copied
