"""Metrics an operator can alert on: by channel, what waits in the journal, the process, and the
TCP port that systemd passes in (socket activation) with only metrics and health behind it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector

from gateway import __version__
from gateway.journal import Journal, Transfer
from gateway.metrics import BootTimeProcessCollector, Metrics
from gateway.smtp.metrics import MailMetrics
from tests.gateway.daemon_harness import REPOSITORY, RunningGateway, png_bytes
from tests.gateway.test_http import get, samples

EXE = b"MZ" + b"\0" * 64


def add_transfer(journal: Journal, transfer_id: str, channel: str, state: str, age: float) -> None:
    journal.create(transfer_id, channel, (), f"/in/{transfer_id}", transfer_id, transfer_id)
    journal.update(transfer_id, state=state)
    with journal.transaction() as db:
        db.execute("UPDATE transfers SET created = ? WHERE id = ?", (time.time() - age, transfer_id))


# ── in process ─────────────────────────────────────────────────────────────────────────
def test_journal_gauges_count_each_channel_and_show_idle_channels_at_zero(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    add_transfer(journal, "a-held", "a", "held", 100)
    add_transfer(journal, "a-working", "a", "sanitising", 30)
    add_transfer(journal, "b-old", "b", "awaiting_approval", 7200)
    add_transfer(journal, "b-new", "b", "awaiting_approval", 60)
    add_transfer(journal, "b-done", "b", "released", 9000)  # finished: counts nowhere
    add_transfer(journal, "gone-held", "removed", "held", 10)  # a channel a reload took away
    metrics = Metrics()
    metrics.read_journal(lambda: journal.view, lambda: ("a", "b", "idle"))
    value = metrics.registry.get_sample_value
    try:
        assert value("mukaika_held_transfers", {"channel": "a"}) == 1
        assert 99 <= value("mukaika_oldest_held_seconds", {"channel": "a"}) < 110  # type: ignore[operator]
        assert value("mukaika_awaiting_approval_transfers", {"channel": "b"}) == 2
        assert 7199 <= value("mukaika_oldest_awaiting_approval_seconds", {"channel": "b"}) < 7210  # type: ignore[operator]
        assert 29 <= value("mukaika_oldest_in_progress_seconds", {"channel": "a"}) < 40  # type: ignore[operator]
        assert value("mukaika_held_transfers", {"channel": "removed"}) == 1
        for channel in ("b", "idle"):
            assert value("mukaika_held_transfers", {"channel": channel}) == 0
            assert value("mukaika_oldest_held_seconds", {"channel": channel}) == 0
        assert value("mukaika_awaiting_approval_transfers", {"channel": "idle"}) == 0
        assert value("mukaika_oldest_in_progress_seconds", {"channel": "b"}) == 0
    finally:
        journal.close()


def test_journal_gauges_are_absent_until_the_journal_is_open() -> None:
    text = Metrics().exposition().decode()
    assert "mukaika_held_transfers{" not in text and "mukaika_awaiting_approval_transfers{" not in text


def test_the_mail_gauges_read_the_deferred_queue(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    for transfer_id, state, age in (
        ("m1", "deferred", 4000),
        ("m2", "queued", 50),
        ("m3", "delivered", 9000),
    ):
        add_transfer(journal, transfer_id, "smtp", "released", age)
        with journal.transaction() as db:
            db.execute(
                "INSERT INTO mail (transfer_id, mail_from, recipients, subject, message_id, peer, received, state,"
                " next_attempt) VALUES (?, 'a@example.jp', '[]', '', '', '127.0.0.1', ?, ?, 0)",
                (transfer_id, time.time() - age, state),
            )
    registry = CollectorRegistry()
    MailMetrics(registry, lambda: journal.view)
    try:
        assert registry.get_sample_value("mukaika_mail_deferred_mails") == 1
        assert 3999 <= registry.get_sample_value("mukaika_mail_oldest_open_seconds") < 4010  # type: ignore[operator]
    finally:
        journal.close()


def test_transfers_are_counted_by_channel() -> None:
    metrics = Metrics()
    now = time.time()
    for channel, state in (("a", "released"), ("a", "rejected"), ("b", "released")):
        metrics.record_transfer(Transfer("t", channel, "[]", "/in/x", "x", "x", state, now, now + 1, now + 1,
                                         size_in=10, size_out=7, file_type="png", method="rebuild"))  # fmt: skip
    value = metrics.registry.get_sample_value
    labels = {"verdict": "released", "file_type": "png", "method": "rebuild"}
    assert value("mukaika_transfers_total", {"channel": "a", **labels}) == 1
    assert value("mukaika_transfers_total", {"channel": "b", **labels}) == 1
    assert value("mukaika_bytes_in_total", {"channel": "a"}) == 20
    assert value("mukaika_bytes_out_total", {"channel": "a"}) == 7
    assert value("mukaika_transfer_duration_seconds_count", {"channel": "a"}) == 2
    assert value("mukaika_transfer_duration_seconds_count", {"channel": "b"}) == 1


def test_process_and_build_series_are_there_and_no_created_series() -> None:
    metrics = Metrics()
    metrics.record_transfer(Transfer("t", "a", "[]", "/in/x", "x", "x", "released", 1.0, 2.0, 2.0))
    text = metrics.exposition().decode()
    assert "_created" not in text
    value = metrics.registry.get_sample_value
    assert value("mukaika_build_info", {"version": __version__}) == 1
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds",
                 "process_open_fds"):  # fmt: skip
        assert value(name) is not None, name


def test_process_series_stay_when_proc_stat_is_hidden(tmp_path: Path) -> None:
    """Under the unit's ProcSubset=pid only /proc/<pid> is visible: no /proc/stat, no boot time there."""
    (tmp_path / "self").symlink_to("/proc/self")
    hidden, visible = CollectorRegistry(), CollectorRegistry()
    BootTimeProcessCollector(proc=str(tmp_path), registry=hidden)
    ProcessCollector(registry=visible)
    started = hidden.get_sample_value("process_start_time_seconds")
    assert started is not None and hidden.get_sample_value("process_open_fds") is not None
    assert abs(started - visible.get_sample_value("process_start_time_seconds")) < 2  # type: ignore[operator]


# ── the sockets systemd passes ─────────────────────────────────────────────────────────
def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def passed_as_systemd_does(sock: socket.socket, names: str) -> tuple[str, ...]:
    """A wrapper command that hands ``sock`` to what it execs as fd 3, with LISTEN_* set."""
    return (sys.executable, "-m", "tests.gateway.socket_passing", str(sock.fileno()), names)


TAKE = """
import json, os
from gateway.activation import ActivationError, take_metrics_sockets
try:
    sockets = take_metrics_sockets()
except ActivationError as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"sockets": [s.getsockname()[1] for s in sockets],
                      "inheritable": [os.get_inheritable(s.fileno()) for s in sockets],
                      "left": sorted(k for k in os.environ if k.startswith("LISTEN_"))}))
"""


def take_in_child(sock: socket.socket, names: str, *extra: str) -> dict[str, object]:
    command = [*passed_as_systemd_does(sock, names), *extra, sys.executable, "-c", TAKE]
    result = subprocess.run(command, pass_fds=(sock.fileno(),), capture_output=True, text=True, check=True,
                            cwd=REPOSITORY, timeout=60)  # fmt: skip
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_the_passed_socket_is_taken_close_on_exec_and_the_variables_are_removed() -> None:
    with listening_socket() as sock:
        taken = take_in_child(sock, "metrics")
        assert taken == {"sockets": [sock.getsockname()[1]], "inheritable": [False], "left": []}


def test_variables_for_another_process_are_dropped_and_its_sockets_left_alone() -> None:
    with listening_socket() as sock:  # a shell between systemd and the daemon would have another pid
        taken = take_in_child(sock, "metrics", "/usr/bin/env", "LISTEN_PID=1")
        assert taken == {"sockets": [], "inheritable": [], "left": []}


def test_a_socket_of_another_name_is_refused() -> None:
    with listening_socket() as sock:
        error = str(take_in_child(sock, "console")["error"])
    assert "named 'console'" in error and "FileDescriptorName=metrics" in error


def test_a_socket_that_does_not_listen_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        assert "not a listening stream socket" in str(take_in_child(sock, "metrics")["error"])


def descendants(pid: int) -> set[int]:
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), set()).add(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), set()) - found:
            found.add(child)
            todo.append(child)
    return found


def holds_socket(pid: int, inode: int) -> bool:
    with contextlib.suppress(OSError):
        return any(str(fd.readlink()) == f"socket:[{inode}]" for fd in Path(f"/proc/{pid}/fd").iterdir())
    return False


@pytest.mark.slow
def test_prometheus_scrapes_the_passed_socket_which_serves_only_metrics_and_health(tmp_path: Path) -> None:
    with listening_socket() as sock:
        port = sock.getsockname()[1]
        gateway = RunningGateway(
            tmp_path, wrapper=passed_as_systemd_does(sock, "metrics"), pass_fds=(sock.fileno(),)
        )
        with gateway:  # no [http] listen: the passed socket alone is the opt-in

            def fetch(path: str) -> tuple[int, str, str]:
                return get(http.client.HTTPConnection("127.0.0.1", port, timeout=10), path)

            status, content_type, text = fetch("/metrics")
            assert status == 200 and content_type.startswith("text/plain; version=")
            values = samples(text)
            assert values[("mukaika_build_info", frozenset({("version", __version__)}))] == 1
            assert ("process_cpu_seconds_total", frozenset()) in values
            assert values[("mukaika_held_transfers", frozenset({("channel", "test")}))] == 0
            assert "_created" not in text
            assert fetch("/healthz")[0] == 200 and json.loads(fetch("/readyz")[2])["ready"] is True
            for path in ("/status", "/", "/transfers", "/approvals"):  # nothing that names files or people
                assert fetch(path)[0] == 404, path
            assert (
                f"127.0.0.1:{port}" in gateway.log_text()
                and "metrics listener listening" in gateway.log_text()
            )
            assert gateway.process is not None
            workers = descendants(gateway.process.pid)
            assert workers, "the worker processes"
            assert not any(holds_socket(pid, os.fstat(sock.fileno()).st_ino) for pid in workers)
            assert gateway.stop() == 0


@pytest.mark.slow
def test_a_passed_socket_of_another_name_stops_start_up(tmp_path: Path) -> None:
    with listening_socket() as sock:
        gateway = RunningGateway(
            tmp_path, wrapper=passed_as_systemd_does(sock, "status"), pass_fds=(sock.fileno(),)
        )
        with pytest.raises(AssertionError, match=r"daemon exited \(2\)"):
            gateway.start()
    assert "the sockets passed by systemd are not the gateway's" in gateway.log_text()
    assert "gateway started" not in gateway.log_text()


# ── the daemon, two channels ───────────────────────────────────────────────────────────
@contextlib.contextmanager
def clean_clamd(path: Path) -> Iterator[None]:
    """A stand-in for clamd that finds every stream clean, until the block ends (then it is away)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    server.settimeout(0.1)
    stopping = threading.Event()

    def read_exactly(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError("client hung up")
            data += chunk
        return data

    def answer(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(10)
            read_exactly(conn, len(b"zINSTREAM\0"))
            while length := struct.unpack(">I", read_exactly(conn, 4))[0]:
                read_exactly(conn, length)
            conn.sendall(b"stream: OK\0")

    def serve() -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                answer(server.accept()[0])

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        thread.join(10)
        server.close()
        path.unlink()


@pytest.mark.slow
def test_metrics_count_each_channel_and_show_held_and_awaiting_approval_files(tmp_path: Path) -> None:
    clamd, http_socket = tmp_path / "clamd.sock", tmp_path / "http.sock"
    second = tmp_path / "second"
    for folder in ("in", "out", "rejected"):
        (second / folder).mkdir(parents=True)
    gateway = RunningGateway(
        tmp_path, http=f'listen = "unix:{http_socket}"', clamav=f'socket = "{clamd}"\non_unavailable = "hold"',
        extra=f'[console]\nlisten = "unix:{tmp_path / "console.sock"}"\nusers_file = "{tmp_path / "users.toml"}"\n',
        channel_extra=f'[[channels]]\nname = "second"\ninbox = "{second / "in"}"\noutbox = "{second / "out"}"\n'
                      f'rejected = "{second / "rejected"}"\napproval = "required"\n',
    )  # fmt: skip

    def metrics() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        connection = http.client.HTTPConnection("localhost", timeout=10)
        connection.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.sock.connect(str(http_socket))
        return samples(get(connection, "/metrics")[2])

    with gateway:
        with clean_clamd(clamd):
            (gateway.inbox / "setup.exe").write_bytes(EXE)
            (second / "in" / "setup.exe").write_bytes(EXE)
            (second / "in" / "photo.png").write_bytes(png_bytes())
            gateway.wait_for_states("rejected", "rejected", "awaiting_approval")
        (gateway.inbox / "photo.png").write_bytes(png_bytes())  # clamd is away now: held
        gateway.wait_for_states("rejected", "rejected", "awaiting_approval", "held")
        refused = {"verdict": "rejected", "file_type": "exe", "method": "none"}

        def counted(channel: str) -> bool:
            return (
                "mukaika_transfers_total",
                frozenset({"channel": channel, **refused}.items()),
            ) in metrics()

        gateway.wait_for(lambda: counted("test") and counted("second"), 10, "both refusals counted")
        values = metrics()

    def value(name: str, channel: str, **labels: str) -> float:
        return values[(name, frozenset({"channel": channel, **labels}.items()))]

    assert value("mukaika_transfers_total", "test", **refused) == 1
    assert value("mukaika_transfers_total", "second", **refused) == 1
    assert value("mukaika_transfer_duration_seconds_count", "second") == 1
    assert value("mukaika_bytes_in_total", "test") == len(EXE)
    assert value("mukaika_held_transfers", "test") == 1 and value("mukaika_held_transfers", "second") == 0
    assert value("mukaika_awaiting_approval_transfers", "second") == 1
    assert value("mukaika_awaiting_approval_transfers", "test") == 0
    assert 0 < value("mukaika_oldest_held_seconds", "test") < 60
    assert value("mukaika_oldest_awaiting_approval_seconds", "second") > value(
        "mukaika_oldest_held_seconds", "test"
    )
    assert value("mukaika_oldest_in_progress_seconds", "test") == 0
