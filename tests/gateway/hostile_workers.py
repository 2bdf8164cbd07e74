"""Worker entry points that behave as a parser taken over by a hostile file would.

The isolation tests give them to a ZygoteProvider of their own (the zygote runs only the
entry points named at its start), so they run exactly where the real sanitiser runs: in a
freshly forked worker that the zygote has already confined.  Each attack is recorded as
what the kernel answered, never assumed.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.isolation.job import RESULT_NAME, job_from_message
from sanitizers import convert

REPORT = "attacks.json"
_PTRACE_ATTACH = 16
_CLONE_NEWUSER = 0x10000000
_FORK_BOMB_LIMIT = 2000  # the test's own bound: far above the workers' process limit


def outcome(attempt: Callable[[], object]) -> str:
    """'succeeded', or the errno name the kernel answered with."""
    try:
        attempt()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc))
    return "succeeded"


def _libc_call(name: str, *args: Any) -> Callable[[], None]:
    def call() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if getattr(libc, name)(*args) == -1:
            raise OSError(ctypes.get_errno(), name)

    return call


def _write(path: Path | str, mode: str = "w") -> Callable[[], None]:
    def write() -> None:
        with open(path, mode) as f:
            f.write("escaped")

    return write


def _read(path: Path | str) -> Callable[[], bytes]:
    return lambda: Path(path).read_bytes()


def _connect_unix(path: str, kind: socket.SocketKind = socket.SOCK_STREAM) -> Callable[[], None]:
    def connect() -> None:
        with socket.socket(socket.AF_UNIX, kind) as s:
            s.connect(path)

    return connect


def _connect_tcp(port: int) -> Callable[[], None]:
    return lambda: socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _run(argv: list[str]) -> Callable[[], None]:
    return lambda: subprocess.run(argv, check=False, capture_output=True, timeout=30) and None


def attacks(targets: dict[str, Any], scratch: Path, staged: Path) -> dict[str, str]:
    """Every escape the isolation promises to stop, against the paths the test named and
    against the worker's own input (readable, never writable: the original must stay as staged)."""
    spool = Path(targets["spool"])
    dropped = scratch / "payload"
    dropped.write_text("#!/bin/sh\nexec /bin/sh -i\n")  # /bin/sh itself is not even readable
    dropped.chmod(0o755)
    zygote = os.getppid()
    found = {
        "write its own input": outcome(_write(staged, "r+")),
        "truncate its own input": outcome(lambda: os.truncate(staged, 0)),
        "move its own input into scratch": outcome(lambda: staged.rename(scratch / "taken")),
        "read originals key": outcome(_read(targets["key"])),
        "list spool": outcome(lambda: os.listdir(spool)),
        "read another transfer": outcome(_read(targets["other_staged"])),
        "write outbox": outcome(_write(Path(targets["outbox"]) / "forge.txt")),
        "write inbox": outcome(_write(Path(targets["inbox"]) / "again.txt")),
        "open journal for writing": outcome(_write(spool / "journal.sqlite", "r+")),
        "append to config": outcome(_write(targets["config"], "a")),
        "write /tmp": outcome(_write("/tmp/mukaika-escaped.txt")),
        "list source checkout": outcome(lambda: os.listdir(targets["checkout"])),
        "exec /bin/sh": outcome(_run(["/bin/sh", "-c", "true"])),
        "exec a program written into scratch": outcome(_run([str(dropped)])),
        "exec the python interpreter": outcome(_run([sys.executable, "-c", "pass"])),
        "symlink out of scratch": outcome(lambda: (scratch / "link").symlink_to(targets["outbox"])),
        "hard link the config into scratch": outcome(lambda: os.link(targets["config"], scratch / "hard")),
        "ptrace the zygote": outcome(_libc_call("ptrace", _PTRACE_ATTACH, zygote, 0, 0)),
        "write the zygote's memory": outcome(_write(f"/proc/{zygote}/mem", "r+")),
        "signal the zygote": outcome(lambda: os.kill(zygote, signal.SIGTERM)),
        "signal the daemon": outcome(lambda: os.kill(targets["daemon_pid"], signal.SIGTERM)),
        "connect to the daemon's socket": outcome(_connect_unix(targets["daemon_socket"])),
        "datagram to the daemon's socket": outcome(
            _connect_unix(targets["daemon_socket"], socket.SOCK_DGRAM)
        ),
        "reach the network": outcome(_connect_tcp(targets["tcp_port"])),
        "new user namespace": outcome(_libc_call("unshare", _CLONE_NEWUSER)),
        "anonymous executable file": outcome(lambda: os.memfd_create("payload")),
        "change personality": outcome(_libc_call("personality", 0x0040000)),  # ADDR_NO_RANDOMIZE
        "fork bomb": fork_bomb(),
    }
    found["run the converter"] = outcome(_run([targets["converter"], "--version"]))
    return found


def fork_bomb() -> str:
    """Fork until the kernel says no, as an unprivileged user (a production worker is one):
    the errno that stopped it, or 'succeeded' if the test's own bound was reached first."""
    read_end, write_end = os.pipe()
    bomber = os.fork()
    if bomber == 0:
        os.close(read_end)
        verdict = "succeeded"
        try:
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            for _ in range(_FORK_BOMB_LIMIT):
                if os.fork() == 0:
                    os.close(write_end)  # the report ends when the bomber writes it, not when these die
                    time.sleep(60)
                    os._exit(0)
        except OSError as exc:
            verdict = errno.errorcode.get(exc.errno or 0, str(exc))
        os.write(write_end, verdict.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        verdict = pipe.read().decode()
    os.waitpid(bomber, 0)
    return verdict


def escapes(message: dict[str, Any]) -> None:
    """Try every attack (targets in the input file), then report them as the refusal's message:
    the reason is the only thing a refused worker's words carry into the journal."""
    job = job_from_message(message)
    scratch = job.work_dir / "scratch"
    scratch.mkdir(exist_ok=True)
    found = attacks(json.loads(job.staged_path.read_text()), scratch, job.staged_path)
    (job.work_dir / REPORT).write_text(json.dumps(found))
    report = json.dumps(found, separators=(",", ":"))
    _result(job.work_dir, {"verdict": "rejected", "type": "txt",
                           "reason": {"code": "sanitizer.crash", "message": report}})  # fmt: skip


FORGED_PDF = (
    b"%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 9 9]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def forges_pdf_as_text(message: dict[str, Any]) -> None:
    """Claims its input was text, sanitised into text, and leaves a PDF with JavaScript."""
    _forge(message, "txt", FORGED_PDF)


def forges_pdf(message: dict[str, Any]) -> None:
    """Claims a rebuilt PDF, and leaves one that runs JavaScript when opened."""
    _forge(message, "pdf", FORGED_PDF)


def _forge(message: dict[str, Any], claimed_type: str, data: bytes) -> None:
    job = job_from_message(message)
    scratch = job.work_dir / "scratch"
    scratch.mkdir(exist_ok=True)
    (scratch / "output-rebuild").write_bytes(data)
    _result(job.work_dir, {"verdict": "released", "reason": None, "type": claimed_type, "method": "rebuild",
                           "findings": [], "output": "output-rebuild", "output_type": claimed_type})  # fmt: skip


def leaves_a_daemon_behind(message: dict[str, Any]) -> None:
    """Double-forks a sleeper in a session of its own, records its pid, then exits at once."""
    job = job_from_message(message)
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(write_end, str(os.getpid()).encode())
            os.close(write_end)
            time.sleep(3600)
        os._exit(0)
    os.close(write_end)
    (job.work_dir / "pids.txt").write_text(os.read(read_end, 32).decode())


def starts_the_converter_and_waits(message: dict[str, Any]) -> None:
    """Starts LibreOffice the way PDF化 does (headless, idle), records its pid, and waits."""
    job = job_from_message(message)
    scratch = job.work_dir / "scratch"
    scratch.mkdir(exist_ok=True)
    program = convert.soffice_path()
    assert program is not None
    argv = [program, "--headless", "--norestore", f"-env:UserInstallation={(scratch / 'profile').as_uri()}",
            f"-env:OSL_SOCKET_PATH={convert.PIPE_DIRECTORY}"]  # fmt: skip
    convert.start_converter(argv, scratch).wait()  # a fresh profile: it sets it up, then asks for a restart
    office = convert.start_converter(argv, scratch)  # with nothing to convert, it stays up
    (job.work_dir / "pids.txt").write_text(f"{os.getpid()} {office.pid}")
    time.sleep(3600)


def _result(work_dir: Path, result: dict[str, object]) -> None:
    (work_dir / RESULT_NAME).write_text(json.dumps(result))


ENTRY_POINTS = tuple(
    f"{__name__}:{f.__name__}"
    for f in (escapes, forges_pdf_as_text, forges_pdf, leaves_a_daemon_behind, starts_the_converter_and_waits)
)
