"""The settler: a file is taken only after it held still, oldest first, a bounded few at a time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.config import Channel
from gateway.intake import Settler, scan_tree, wanted


@pytest.fixture
def channel(tmp_path: Path) -> Channel:
    return Channel("c", tmp_path / "in", tmp_path / "out", tmp_path / "rej")


def test_a_file_is_ready_only_after_it_held_still(tmp_path: Path, channel: Channel) -> None:
    settler = Settler(settle_seconds=0.3)
    path = tmp_path / "a.pdf"
    path.write_bytes(b"1")
    settler.offer(channel, path)
    assert settler.ready(10) == []
    time.sleep(0.2)
    path.write_bytes(b"12")  # still growing: the wait starts again
    time.sleep(0.15)
    assert settler.ready(10) == []
    time.sleep(0.35)
    assert settler.ready(10) == [(channel, path)]


def test_ready_is_bounded_and_oldest_first(tmp_path: Path, channel: Channel) -> None:
    settler = Settler(settle_seconds=0.0)
    paths = []
    for i in range(300):
        path = tmp_path / f"{i:03}.txt"
        path.write_text("x")
        settler.offer(channel, path)
        paths.append(path)
    assert [p for _, p in settler.ready(5)] == paths[:5]


def test_vanished_files_are_forgotten_and_links_need_no_waiting(tmp_path: Path, channel: Channel) -> None:
    settler = Settler(settle_seconds=0.0)
    gone = tmp_path / "gone.txt"
    gone.write_text("x")
    link = tmp_path / "link.txt"
    link.symlink_to("/etc/hostname")
    settler.offer(channel, gone)
    settler.offer(channel, link)
    gone.unlink()
    assert settler.ready(10) == [(channel, link)]
    assert len(settler) == 1


def test_temporary_and_own_names_are_never_offered(tmp_path: Path, channel: Channel) -> None:
    settler = Settler(settle_seconds=0.0)
    for name in ("~$x.docx", ".mukaika-tmp-1-output", "y.part"):
        (tmp_path / name).write_text("x")
        settler.offer(channel, tmp_path / name)
    assert len(settler) == 0
    assert not wanted(tmp_path / "z.tmp") and wanted(tmp_path / "z.pdf")


def test_scan_reports_symlinked_folders_without_entering_them(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("x")
    (tmp_path / "etc-link").symlink_to("/etc", target_is_directory=True)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in scan_tree(tmp_path)) == [
        "etc-link",
        "sub/a.txt",
    ]
