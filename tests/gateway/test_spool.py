"""Staging and exactly-once placement, including the crash points in between."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePath

import pytest

from gateway.fsutil import TEMP_PREFIX
from gateway.journal import Placement
from gateway.share import writers_kept_out
from gateway.spool import Spool, StagingError, finish_placement, place_once
from gateway.vault import Vault


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    s = Spool(tmp_path / "spool")
    s.create()
    return s


def test_stage_moves_the_file_and_hashes_it(spool: Spool, tmp_path: Path) -> None:
    inbox_file = tmp_path / "a.pdf"
    inbox_file.write_bytes(b"data")
    staged = spool.stage(tmp_path, PurePath("a.pdf"), "t1")
    assert not inbox_file.exists()
    assert staged.path.read_bytes() == b"data" and staged.sha256 == sha(b"data") and staged.size == 4
    assert oct(spool.root.stat().st_mode & 0o777) == "0o700"


def test_a_symlink_swapped_in_after_the_check_is_refused_not_followed(spool: Spool, tmp_path: Path) -> None:
    link = tmp_path / "a.pdf"
    link.symlink_to("/etc/hostname")
    with pytest.raises(StagingError):
        spool.stage(tmp_path, PurePath("a.pdf"), "t1")


def test_a_hard_link_swapped_in_after_the_check_is_refused(spool: Spool, tmp_path: Path) -> None:
    original = tmp_path / "secret"
    original.write_bytes(b"secret")
    os.link(original, tmp_path / "a.pdf")
    with pytest.raises(StagingError):
        spool.stage(tmp_path, PurePath("a.pdf"), "t1")
    assert original.read_bytes() == b"secret"


def test_retain_original_encrypts_it_and_is_idempotent(spool: Spool, tmp_path: Path) -> None:
    vault = Vault(bytes(32))
    (tmp_path / "a").write_bytes(b"secret original")
    spool.stage(tmp_path, PurePath("a"), "t1")
    spool.retain_original("t1", vault)
    spool.retain_original("t1", vault)
    kept = spool.original_path("t1").read_bytes()
    assert b"secret original" not in kept
    assert vault.decrypt_file(spool.original_path("t1"), tmp_path / "back", "t1") == sha(b"secret original")
    assert (tmp_path / "back").read_bytes() == b"secret original"
    assert spool.pending_ids() == set() and os.listdir(spool.originals) == ["t1"]


def placement(tmp_path: Path, data: bytes = b"clean", name: str = "a.pdf") -> Placement:
    source = tmp_path / "source"
    source.write_bytes(data)
    return Placement("output", str(tmp_path / "outbox"), name, str(source), sha(data))


def test_place_once_never_overwrites(tmp_path: Path) -> None:
    p = placement(tmp_path)
    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "a.pdf").write_bytes(b"someone else's")
    final = place_once(p, "t1-output")
    assert final.name == "a (1).pdf" and final.read_bytes() == b"clean"
    assert (tmp_path / "outbox" / "a.pdf").read_bytes() == b"someone else's"


def test_crash_after_link_before_journal_does_not_duplicate(tmp_path: Path) -> None:
    p = placement(tmp_path)
    first = place_once(p, "t1-output")  # crash here: journal never learned the final path
    again = place_once(p, "t1-output")
    finish_placement(Path(p.directory), "t1-output")
    assert again == first
    assert sorted(os.listdir(p.directory)) == ["a.pdf"]


def test_crash_during_the_temp_copy_is_redone(tmp_path: Path) -> None:
    p = placement(tmp_path)
    outbox = Path(p.directory)
    outbox.mkdir()
    (outbox / f"{TEMP_PREFIX}t1-output").write_bytes(b"cle")  # torn write
    final = place_once(p, "t1-output")
    finish_placement(outbox, "t1-output")
    assert final.read_bytes() == b"clean"
    assert sorted(os.listdir(outbox)) == ["a.pdf"]


def test_a_source_that_changed_is_not_placed(tmp_path: Path) -> None:
    p = placement(tmp_path)
    Path(p.source).write_bytes(b"tampered")
    with pytest.raises(OSError, match="recorded hash"):
        place_once(p, "t1-output")
    assert [n for n in os.listdir(p.directory) if not n.startswith(".")] == []


def test_a_folder_swapped_for_a_symlink_is_never_followed(spool: Spool, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "report.pdf").write_bytes(b"not the share's")
    inbox.mkdir()
    (inbox / "sub").symlink_to(elsewhere, target_is_directory=True)  # staff's doing, after our scan
    with pytest.raises(StagingError, match="not a plain folder"):
        spool.stage(inbox, PurePath("sub/report.pdf"), "t1")
    assert (elsewhere / "report.pdf").read_bytes() == b"not the share's"
    assert not spool.staged_path("t1").exists()


def test_a_file_still_open_for_writing_waits_in_the_inbox(spool: Spool, tmp_path: Path) -> None:
    inbox_file = tmp_path / "a.csv"
    with inbox_file.open("wb") as writer:  # an SMB client that paused mid-copy
        writer.write(b"first half,")
        writer.flush()
        with pytest.raises(StagingError, match="open for writing"):
            spool.stage(tmp_path, PurePath("a.csv"), "t1")
        assert inbox_file.read_bytes() == b"first half,"
        assert not spool.staged_path("t1").exists()
        writer.write(b"second half\n")
    staged = spool.stage(tmp_path, PurePath("a.csv"), "t1")
    assert staged.sha256 == sha(b"first half,second half\n")


def test_a_file_open_for_writing_is_not_copied_from_another_filesystem(spool: Spool) -> None:
    shm = Path("/dev/shm")
    assert shm.stat().st_dev != spool.root.stat().st_dev, "the test needs a second filesystem"
    inbox = Path(tempfile.mkdtemp(dir=shm))
    try:
        inbox_file = inbox / "a.csv"
        with inbox_file.open("wb") as writer:
            writer.write(b"partial")
            writer.flush()
            with pytest.raises(StagingError, match="open for writing"):
                spool.stage(inbox, PurePath("a.csv"), "t1")
        assert inbox_file.read_bytes() == b"partial" and not spool.staged_path("t1").exists()
        assert spool.stage(inbox, PurePath("a.csv"), "t1").sha256 == sha(b"partial")
        assert not inbox_file.exists()
    finally:
        shutil.rmtree(inbox)


def test_a_writer_opening_the_file_mid_staging_is_noticed(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    target.write_bytes(b"data")
    fd = os.open(target, os.O_RDONLY)
    try:
        with writers_kept_out(fd) as unopened:
            assert unopened()
            # The writer's open blocks until the lease is let go; the break shows at once.
            writer = subprocess.Popen([sys.executable, "-c", f"open({str(target)!r}, 'ab').close()"])
            deadline = time.monotonic() + 10
            while unopened() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not unopened()
            assert writer.poll() is None, "the writer waits while the lease is held"
    finally:
        os.close(fd)
    assert writer.wait(10) == 0
