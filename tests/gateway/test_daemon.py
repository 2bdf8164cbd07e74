"""The real daemon, end to end: staff drop files, clean copies or reason files appear."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.gateway.daemon_harness import RunningGateway, png_bytes

pytestmark = pytest.mark.slow


def test_write_close_rename_in_and_subfolders_are_released(tmp_path: Path) -> None:
    with RunningGateway(tmp_path) as gateway:
        (gateway.inbox / "written.png").write_bytes(png_bytes(text="secret comment"))
        staging = tmp_path / "elsewhere.png"
        staging.write_bytes(png_bytes((0, 0, 255)))
        staging.rename(gateway.inbox / "renamed-in.png")
        (gateway.inbox / "課" / "2026年度").mkdir(parents=True)
        (gateway.inbox / "課" / "2026年度" / "写真.png").write_bytes(png_bytes((0, 255, 0)))
        gateway.wait_for_outputs(released=3, rejected=0)
        assert gateway.files(gateway.outbox) == ["renamed-in.png", "written.png", "課/2026年度/写真.png"]
        assert gateway.files(gateway.inbox) == []
        with Image.open(gateway.outbox / "written.png") as image:
            assert "Comment" not in image.info
        gateway.wait_for_transfer_lines(3)  # written after the outputs land
        lines = gateway.transfer_lines()
        assert {line["verdict"] for line in lines} == {"released"}
        assert all(len(str(line["sha256_out"])) == 64 and line["method"] == "rebuild" for line in lines)


def test_slow_partial_write_waits_until_the_file_is_complete(tmp_path: Path) -> None:
    data = png_bytes((10, 20, 30))
    with RunningGateway(tmp_path, settle=1.0) as gateway:
        with (gateway.inbox / "slow.png").open("wb") as f:
            for i in range(0, len(data), 16):
                f.write(data[i : i + 16])
                f.flush()
                time.sleep(0.05)
        gateway.wait_for_outputs(released=1, rejected=0)
        with Image.open(gateway.outbox / "slow.png") as image:
            assert image.getpixel((0, 0)) == (10, 20, 30)


def test_temporary_names_wait_until_renamed(tmp_path: Path) -> None:
    with RunningGateway(tmp_path) as gateway:
        (gateway.inbox / "~$draft.png").write_bytes(png_bytes())
        (gateway.inbox / "upload.png.part").write_bytes(png_bytes())
        time.sleep(1.5)
        assert gateway.files(gateway.outbox) == [] and gateway.files(gateway.rejected) == []
        (gateway.inbox / "upload.png.part").rename(gateway.inbox / "upload.png")
        gateway.wait_for_outputs(released=1, rejected=0)
        assert gateway.files(gateway.outbox) == ["upload.png"]
        assert gateway.files(gateway.inbox) == ["~$draft.png"]


def test_refusals_leave_reason_files_in_japanese_and_english(tmp_path: Path) -> None:
    with RunningGateway(tmp_path) as gateway:
        (gateway.inbox / "setup.exe").write_bytes(b"MZ" + b"\0" * 64)
        (gateway.inbox / "photo.png").write_bytes(b"%!PS-Adobe-3.0\nshowpage\n")  # PostScript in disguise
        gateway.wait_for_outputs(released=0, rejected=2)
        reason = (gateway.rejected / "setup.exe.reason.txt").read_bytes()
        assert reason.startswith(b"\xef\xbb\xbf")
        text = reason.decode("utf-8-sig")
        assert "policy.reject" in text and "送信されませんでした" in text and "not released" in text
        assert "type.mismatch" in (gateway.rejected / "photo.png.reason.txt").read_text(encoding="utf-8-sig")
        assert gateway.files(gateway.outbox) == []
        # the originals are kept in the spool (moved there just after the reason files land)
        originals = gateway.spool / "originals"
        gateway.wait_for(lambda: len(list(originals.iterdir())) == 2, 10, "the retained originals")
        assert not (gateway.rejected / "setup.exe").exists()


def test_return_rejected_puts_the_original_back_beside_its_reason(tmp_path: Path) -> None:
    with RunningGateway(tmp_path, channel_extra="return_rejected = true") as gateway:
        (gateway.inbox / "tool.exe").write_bytes(b"MZ" + b"\1" * 64)
        gateway.wait_for_outputs(released=0, rejected=1)
        gateway.wait_for(lambda: (gateway.rejected / "tool.exe").exists())
        assert (gateway.rejected / "tool.exe").read_bytes() == b"MZ" + b"\1" * 64


def test_symlinks_fifos_and_hard_links_are_refused_without_escape(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    with RunningGateway(tmp_path) as gateway:
        (gateway.inbox / "link.png").symlink_to(secret)
        (gateway.inbox / "dirlink").symlink_to(tmp_path, target_is_directory=True)
        os.mkfifo(gateway.inbox / "pipe.png")
        os.link(secret, gateway.inbox / "hard.png")
        gateway.wait_for_outputs(released=0, rejected=4)
        assert gateway.files(gateway.outbox) == []
        expected = ["dirlink.reason.txt", "hard.png.reason.txt", "link.png.reason.txt", "pipe.png.reason.txt"]
        assert sorted(gateway.files(gateway.rejected)) == expected
        assert "input.hard_link" in (gateway.rejected / "hard.png.reason.txt").read_text(encoding="utf-8-sig")
        assert secret.read_text() == "top secret"  # the target is untouched
        entries = (
            gateway.inbox / "link.png",
            gateway.inbox / "pipe.png",
        )  # unlinked just after the reasons land
        gateway.wait_for(
            lambda: not any(p.exists() or p.is_symlink() for p in entries), 10, "the entries gone"
        )


def test_rtlo_and_reserved_names_are_cleaned_on_the_way_out(tmp_path: Path) -> None:
    with RunningGateway(tmp_path) as gateway:
        (gateway.inbox / "photo\u202egnp.png").write_bytes(png_bytes())
        (gateway.inbox / "CON.png").write_bytes(png_bytes((1, 2, 3)))
        gateway.wait_for_outputs(released=2, rejected=0)
        assert gateway.files(gateway.outbox) == ["_CON.png", "photognp.png"]


def test_same_name_twice_never_overwrites(tmp_path: Path) -> None:
    with RunningGateway(tmp_path) as gateway:
        (gateway.inbox / "a.png").write_bytes(png_bytes((1, 1, 1)))
        gateway.wait_for_outputs(released=1, rejected=0)
        (gateway.inbox / "a.png").write_bytes(png_bytes((2, 2, 2)))
        gateway.wait_for_outputs(released=2, rejected=0)
        assert gateway.files(gateway.outbox) == ["a (1).png", "a.png"]


def test_files_dropped_while_down_are_taken_at_start(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path)
    gateway.inbox.mkdir(parents=True)
    for i in range(5):
        (gateway.inbox / f"{i}.png").write_bytes(png_bytes((i, i, i)))
    (gateway.inbox / "folder-link").symlink_to(tmp_path, target_is_directory=True)
    with gateway:
        gateway.wait_for_outputs(released=5, rejected=1)
        assert gateway.files(gateway.rejected) == ["folder-link.reason.txt"]


def test_sighup_reload_refuses_a_broken_config_and_adopts_a_good_one(tmp_path: Path) -> None:
    with RunningGateway(tmp_path) as gateway:
        good = gateway.config.read_text()
        gateway.config.write_text(good + "\n[rules.gif]\nmethod = 'shred'\n")
        assert gateway.process is not None
        gateway.process.send_signal(signal.SIGHUP)
        gateway.wait_for(lambda: "config reload refused" in gateway.log_text())
        (gateway.inbox / "still.png").write_bytes(png_bytes())
        gateway.wait_for_outputs(released=1, rejected=0)  # the old config keeps working
        gateway.config.write_text(
            good.replace('[rules.png]\nmethod = "rebuild"', '[rules.png]\nmethod = "reject"')
        )
        gateway.process.send_signal(signal.SIGHUP)
        gateway.wait_for(lambda: "config reloaded" in gateway.log_text())
        (gateway.inbox / "now-refused.png").write_bytes(png_bytes())
        gateway.wait_for_outputs(released=1, rejected=1)


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path).start()
    assert gateway.stop(signal.SIGTERM) == 0
    assert "gateway stopped" in gateway.log_text()


def test_originals_past_retention_are_purged_and_recorded(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path, extra="retention_days = 0")
    with gateway:
        (gateway.inbox / "a.png").write_bytes(png_bytes())
        gateway.wait_for_outputs(released=1, rejected=0)
    assert len(list((gateway.spool / "originals").iterdir())) == 1
    with gateway:  # the purge runs at start-up, then hourly
        gateway.wait_for(lambda: not list((gateway.spool / "originals").iterdir()), 10, "the purge")
    db = sqlite3.connect(gateway.spool / "journal.sqlite")
    assert db.execute("SELECT state, original_purged FROM transfers").fetchall() == [("released", 1)]
    assert gateway.files(gateway.outbox) == ["a.png"]  # the clean copy is not touched


def test_sigterm_lets_in_flight_work_finish(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path, workers=1).start()
    for i in range(6):
        (gateway.inbox / f"{i}.png").write_bytes(png_bytes((i, 0, 0)))
    gateway.wait_for(lambda: len(gateway.files(gateway.outbox)) >= 1, 30, "the first release")
    assert gateway.stop(signal.SIGTERM) == 0
    db = sqlite3.connect(gateway.spool / "journal.sqlite")
    states = [state for (state,) in db.execute("SELECT state FROM transfers")]
    # whatever was taken either finished or is left to recovery; nothing is half-released
    assert all(state in ("released", "sanitising", "admitted") for state in states)
    assert len(gateway.files(gateway.outbox)) == states.count("released")
    with gateway:
        gateway.wait_for_outputs(released=6, rejected=0)


def test_systemd_hears_ready_watchdog_and_stopping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = tmp_path / "notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(address))
    receiver.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(address))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    gateway = RunningGateway(tmp_path).start()
    try:
        messages = [receiver.recv(4096).decode() for _ in range(3)]
        assert messages[0].startswith("READY=1\nSTATUS=watching 1 channel")
        assert all(m.startswith("WATCHDOG=1\nSTATUS=") for m in messages[1:])
        assert gateway.stop() == 0
        while not (message := receiver.recv(4096).decode()).startswith("STOPPING=1"):
            assert message.startswith("WATCHDOG=1")
    finally:
        receiver.close()
