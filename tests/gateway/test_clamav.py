"""ClamAV: the INSTREAM client against a real clamd, and the daemon that scans before releasing."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.clamav import ClamavUnavailableError, scan_file
from tests.gateway.clamd_harness import EICAR, SIGNATURE, Clamd
from tests.gateway.daemon_harness import RunningGateway, png_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    with Clamd(tmp_path_factory.mktemp("clamd")) as running:
        yield running


@contextlib.contextmanager
def fake_clamd(directory: Path, reply: bytes | None) -> Iterator[str]:
    """A one-connection stand-in for clamd that sends ``reply``, or never answers if None."""
    path = directory / "fake.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            if reply is not None:
                conn.sendall(reply)
            while conn.recv(65536):  # until the client hangs up
                pass

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield str(path)
    finally:
        thread.join(10)
        server.close()


def reason_text(gateway: RunningGateway, name: str) -> str:
    return (gateway.rejected / f"{name}.reason.txt").read_text(encoding="utf-8-sig")


def journal_reasons(gateway: RunningGateway) -> list[tuple[str | None, str | None]]:
    with contextlib.closing(sqlite3.connect(gateway.spool / "journal.sqlite")) as db:
        return db.execute("SELECT reason_code, reason_message FROM transfers").fetchall()


# ── the client ─────────────────────────────────────────────────────────────────────────
def test_a_clean_file_has_no_signature(clamd: Clamd, tmp_path: Path) -> None:
    clean = tmp_path / "clean.png"
    clean.write_bytes(png_bytes())
    assert scan_file(str(clamd.socket), clean, timeout=10) is None


def test_eicar_anywhere_in_a_file_is_found_by_name(clamd: Clamd, tmp_path: Path) -> None:
    infected = tmp_path / "notes.txt"
    infected.write_bytes(b"meeting notes\n" * 10_000 + EICAR + b"\n")  # spans several chunks
    assert scan_file(str(clamd.socket), infected, timeout=10) == SIGNATURE


def test_a_missing_socket_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(ClamavUnavailableError, match="cannot talk to clamd"):
        scan_file(str(tmp_path / "absent.sock"), tmp_path / "a.txt", timeout=5)


def test_a_silent_clamd_times_out(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    with fake_clamd(tmp_path, None) as path, pytest.raises(ClamavUnavailableError, match="no verdict"):
        scan_file(path, tmp_path / "a.txt", timeout=0.5)


def test_a_file_over_the_stream_limit_is_unavailable_not_clean(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    refusal = b"INSTREAM size limit exceeded. ERROR\0"
    with (
        fake_clamd(tmp_path, refusal) as path,
        pytest.raises(ClamavUnavailableError, match="StreamMaxLength"),
    ):
        scan_file(path, tmp_path / "a.txt", timeout=5)


def test_a_hostile_signature_name_is_made_printable_and_bounded(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    untrusted = b"stream: Evil\x1b[2J\n\xe2\x80\xae" + b"A" * 1000 + b" FOUND\0"
    with fake_clamd(tmp_path, untrusted) as path:
        signature = scan_file(path, tmp_path / "a.txt", timeout=5)
    assert signature is not None and len(signature) == 200
    assert signature.startswith("Evil?[2J????AAA") and signature.isprintable() and signature.isascii()


# ── the daemon ─────────────────────────────────────────────────────────────────────────
def test_clean_files_are_released_and_infected_output_is_rejected(clamd: Clamd, tmp_path: Path) -> None:
    with RunningGateway(tmp_path, clamav=f'socket = "{clamd.socket}"') as gateway:
        (gateway.inbox / "clean.png").write_bytes(png_bytes())
        (gateway.inbox / "clean.txt").write_text("議事録\n", encoding="utf-8")
        (gateway.inbox / "eicar.txt").write_bytes(b"see below\n" + EICAR + b"\n")  # text passes unchanged
        gateway.wait_for_outputs(released=2, rejected=1)
        assert gateway.files(gateway.outbox) == ["clean.png", "clean.txt"]
        reason = reason_text(gateway, "eicar.txt")
        assert "av.infected" in reason and f"output: {SIGNATURE}" in reason


def test_clamd_away_holds_the_file_until_it_is_back(tmp_path_factory: pytest.TempPathFactory) -> None:
    clamd = Clamd(tmp_path_factory.mktemp("clamd"))  # not started yet
    root = tmp_path_factory.mktemp("gateway")
    with RunningGateway(root, clamav=f'socket = "{clamd.socket}"\non_unavailable = "hold"') as gateway:
        (gateway.inbox / "photo.png").write_bytes(png_bytes())
        gateway.wait_for_states("held", timeout=30)
        assert gateway.files(gateway.outbox) == [] and gateway.files(gateway.rejected) == []
        with clamd:
            gateway.wait_for_states("released", timeout=30)  # the next back-off retry
        assert gateway.files(gateway.outbox) == ["photo.png"]


def test_a_held_file_is_resumed_after_a_restart(tmp_path_factory: pytest.TempPathFactory) -> None:
    clamd = Clamd(tmp_path_factory.mktemp("clamd"))
    gateway = RunningGateway(tmp_path_factory.mktemp("gateway"), clamav=f'socket = "{clamd.socket}"')
    with gateway:
        (gateway.inbox / "photo.png").write_bytes(png_bytes())
        gateway.wait_for_states("held", timeout=30)
        assert [code for code, _ in journal_reasons(gateway)] == ["av.unavailable"]
    with clamd, gateway:
        gateway.wait_for_states("released")  # the file is in the outbox a moment before this commits
        assert gateway.files(gateway.outbox) == ["photo.png"]
        assert journal_reasons(gateway) == [(None, None)]  # the hold's reason does not outlive it


def test_clamd_away_with_reject_refuses_the_file(tmp_path: Path) -> None:
    absent = tmp_path / "no-clamd.sock"
    with RunningGateway(tmp_path, clamav=f'socket = "{absent}"\non_unavailable = "reject"') as gateway:
        (gateway.inbox / "photo.png").write_bytes(png_bytes())
        gateway.wait_for_outputs(released=0, rejected=1)
        assert "av.unavailable" in reason_text(gateway, "photo.png")
        assert gateway.files(gateway.outbox) == []


def test_known_malware_is_never_handed_back_even_with_return_rejected(clamd: Clamd, tmp_path: Path) -> None:
    with RunningGateway(
        tmp_path, clamav=f'socket = "{clamd.socket}"', channel_extra="return_rejected = true"
    ) as gateway:
        (gateway.inbox / "eicar.txt").write_bytes(EICAR + b"\n")
        (gateway.inbox / "tool.exe").write_bytes(b"MZ" + b"\0" * 64)
        gateway.wait_for_outputs(released=0, rejected=2)
        gateway.wait_for(lambda: (gateway.rejected / "tool.exe").exists(), 10, "the returned original")
        assert "av.infected" in reason_text(gateway, "eicar.txt")
        assert not (gateway.rejected / "eicar.txt").exists()  # it stays in the spool only
