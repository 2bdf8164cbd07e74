"""Disk full and unwritable destinations: the file stays staged, is retried, and lands later."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.daemon_harness import RunningGateway, png_bytes

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_outbox(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs as the outbox, so that ENOSPC is real, not simulated."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    outbox = tmp_path / "out"
    outbox.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(outbox)], check=True)
    try:
        yield outbox
    finally:
        subprocess.run(["umount", "-l", str(outbox)], check=False)


def test_disk_full_keeps_the_file_staged_and_releases_it_once_space_returns(
    tmp_path: Path, tiny_outbox: Path
) -> None:
    filler = tiny_outbox / "filler.bin"
    with filler.open("wb", buffering=0) as f, pytest.raises(OSError, match="No space left"):
        while True:
            f.write(b"\0" * 4096)
    with RunningGateway(tmp_path) as gateway:
        assert gateway.outbox == tiny_outbox
        (gateway.inbox / "photo.png").write_bytes(png_bytes())
        gateway.wait_for(lambda: "No space left" in gateway.log_text(), 30, "the ENOSPC retry")
        assert gateway.files(gateway.inbox) == []  # staged: the share can no longer change it
        assert gateway.files(gateway.outbox) == ["filler.bin"]
        assert gateway.process is not None and gateway.process.poll() is None  # still running
        filler.unlink()
        gateway.wait_for(lambda: gateway.files(gateway.outbox) == ["photo.png"], 30, "the release")
        assert gateway.files(gateway.rejected) == []


def test_unwritable_destination_folder_is_retried_with_back_off(tmp_path: Path) -> None:
    with RunningGateway(tmp_path) as gateway:
        gateway.outbox.mkdir(exist_ok=True)
        (gateway.outbox / "sub").write_text("a file where the folder should be")
        (gateway.inbox / "sub").mkdir()
        (gateway.inbox / "sub" / "photo.png").write_bytes(png_bytes())
        gateway.wait_for(lambda: gateway.log_text().count("will retry") >= 2, 30, "two retries")
        (gateway.outbox / "sub").unlink()
        gateway.wait_for(lambda: gateway.files(gateway.outbox) == ["sub/photo.png"], 30, "the release")


def test_an_inbox_on_another_filesystem_is_staged_by_verified_copy(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    inbox = tmp_path / "in"
    inbox.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(inbox)], check=True)
    try:
        with RunningGateway(tmp_path) as gateway:
            assert gateway.inbox.stat().st_dev != tmp_path.stat().st_dev
            (gateway.inbox / "photo.png").write_bytes(png_bytes((9, 9, 9), text="meta"))
            gateway.wait_for_outputs(released=1, rejected=0)
            gateway.wait_for_transfer_lines(1)  # the original is kept after the release lands
            assert gateway.files(gateway.inbox) == []  # copied, verified, then unlinked
            originals = list((gateway.spool / "originals").iterdir())
            assert [gateway.original_bytes(p) for p in originals] == [png_bytes((9, 9, 9), text="meta")]
    finally:
        subprocess.run(["umount", "-l", str(inbox)], check=False)
