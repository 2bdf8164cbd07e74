"""Share entries are reached without following symlinked folders, whatever the operation."""

from __future__ import annotations

from pathlib import Path, PurePath

import pytest

from gateway.share import OutsideShareError, lstat_entry, open_entry, unlink_entry


@pytest.fixture
def inbox_with_a_symlinked_folder(tmp_path: Path) -> Path:
    target = tmp_path / "outbox-of-another-channel"
    target.mkdir()
    (target / "released.pdf").write_bytes(b"someone's clean copy")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "folder").symlink_to(target, target_is_directory=True)
    return inbox


@pytest.mark.parametrize("operation", [lstat_entry, open_entry, unlink_entry])
def test_no_operation_goes_through_a_symlinked_folder(inbox_with_a_symlinked_folder: Path, operation) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OutsideShareError):
        operation(inbox_with_a_symlinked_folder, PurePath("folder/released.pdf"))
    assert (inbox_with_a_symlinked_folder.parent / "outbox-of-another-channel" / "released.pdf").exists()


def test_a_symlink_entry_is_seen_as_a_link_and_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").symlink_to("/etc/hostname")
    assert lstat_entry(tmp_path, PurePath("a.pdf")).st_mode & 0o170000 == 0o120000
    with pytest.raises(OSError):
        open_entry(tmp_path, PurePath("a.pdf"))
