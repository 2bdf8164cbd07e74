"""The private spool: staged inputs, worker scratch space, retained originals.

    spool/journal.sqlite        the journal
    spool/incoming/<id>         a staged file: from here the share cannot change it
    spool/work/<id>/            the worker's scratch dir (output, result, reason text)
    spool/originals/<id>        originals kept for retention_days, encrypted (gateway.vault);
                                released only to a channel's approved/ after four-eyes approval

Every move inside the spool is a rename on one filesystem. Staging from a share on another
filesystem copies, fsyncs, checks the source did not change meanwhile, then unlinks it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from gateway.config import JOURNAL_FILE
from gateway.fsutil import TEMP_PREFIX, candidate_names, copy_durably, fsync_dir, link_without_overwrite
from gateway.journal import Placement
from gateway.share import (
    OpenForWritingError,
    OutsideShareError,
    move_entry,
    open_entry,
    unlink_entry,
    writers_kept_out,
)
from gateway.vault import Vault
from sanitizers.pipeline import sha256_of

#: Writes a source file to a new temp path and returns the SHA-256 of what it wrote.
Copier = Callable[[Path, Path], str]


class StagingError(Exception):
    """The inbox entry cannot be staged now (changed, vanished, not a plain file)."""


@dataclass(frozen=True)
class StagedFile:
    path: Path
    size: int
    sha256: str


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.work = root / "work"
        self.originals = root / "originals"
        self.journal_path = root / JOURNAL_FILE

    def create(self) -> None:
        for directory in (self.root, self.incoming, self.work, self.originals):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)

    def staged_path(self, transfer_id: str) -> Path:
        return self.incoming / transfer_id

    def work_dir(self, transfer_id: str) -> Path:
        return self.work / transfer_id

    def original_path(self, transfer_id: str) -> Path:
        return self.originals / transfer_id

    def stage(self, inbox: Path, relative: PurePath, transfer_id: str) -> StagedFile:
        """Move ``inbox / relative`` into the spool; then check what arrived is a lone plain file.

        The entry is reached without following symlinks (see gateway.share), so a folder
        swapped for a link cannot make us move a file from elsewhere.
        """
        target = self.staged_path(transfer_id)
        try:
            move_entry(inbox, relative, target)
        except (OutsideShareError, OpenForWritingError) as exc:
            raise StagingError(str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise StagingError("the file vanished before it could be staged") from None
            if exc.errno != errno.EXDEV:
                raise
            _copy_across_filesystems(inbox, relative, target)
        fsync_dir(target.parent)
        return self.inspect_staged(transfer_id)

    def inspect_staged(self, transfer_id: str) -> StagedFile:
        """Hash the staged file, refusing anything but a regular file with one link.

        The inbox entry was checked before the rename, but staff could have swapped it for a
        symlink or hard link in between; only what is now in the private spool counts.
        """
        target = self.staged_path(transfer_id)
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise StagingError("the staged entry is a symbolic link") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise StagingError("the staged entry is not a plain file with a single link")
            digest = hashlib.sha256()
            with os.fdopen(os.dup(fd), "rb") as reader:
                while chunk := reader.read(1 << 20):
                    digest.update(chunk)
        finally:
            os.close(fd)
        return StagedFile(target, info.st_size, digest.hexdigest())

    def retain_original(self, transfer_id: str, vault: Vault) -> None:
        """Keep the staged input, encrypted, among the originals; idempotent.

        The encrypted copy is durable before the plaintext is unlinked, so a crash leaves at
        least one of them; the start-up sweep finds the staged file of a finished transfer
        and does this again.
        """
        staged = self.staged_path(transfer_id)
        try:
            info = staged.lstat()
        except FileNotFoundError:
            return
        if not stat.S_ISREG(info.st_mode):  # never an input: a link or FIFO swapped in (staging, the NAS)
            staged.unlink()
            return
        tmp = self.originals / f"{TEMP_PREFIX}{transfer_id}"
        tmp.unlink(missing_ok=True)
        vault.encrypt_file(staged, tmp, transfer_id)
        tmp.replace(self.original_path(transfer_id))
        fsync_dir(self.originals)
        staged.unlink()

    def discard_work(self, transfer_id: str) -> None:
        shutil.rmtree(self.work_dir(transfer_id), ignore_errors=True)

    def pending_ids(self) -> set[str]:
        """Transfer ids with anything left in incoming/ or work/ (for the start-up sweep)."""
        return {p.name for d in (self.incoming, self.work) if d.exists() for p in d.iterdir()}


def _copy_across_filesystems(inbox: Path, relative: PurePath, target: Path) -> None:
    """Copy, fsync, check the copy's hash and that the source held still, then unlink it."""
    try:
        fd = open_entry(inbox, relative)
    except OutsideShareError as exc:
        raise StagingError(str(exc)) from None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode) or before.st_nlink != 1:
            raise StagingError("the inbox entry is not a plain file with a single link")
        with writers_kept_out(fd) as unopened:
            with os.fdopen(os.dup(fd), "rb") as reader:
                read_digest = copy_durably(reader, target)
            after = os.fstat(fd)
            unchanged = (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
            if not (unchanged and unopened()) or sha256_of(target) != read_digest:
                target.unlink()
                raise StagingError("the file changed while it was being copied into the spool")
            unlink_entry(inbox, relative)
    except OpenForWritingError as exc:
        raise StagingError(str(exc)) from None
    finally:
        os.close(fd)


def place_once(placement: Placement, temp_key: str, copy: Copier | None = None) -> Path:
    """Put ``placement.source`` into its directory under a free name, exactly once.

    Crash-safe by construction: the copy goes to a temp name derived from ``temp_key``, is
    hard-linked to the first free name, and the temp name is removed only after the caller
    has recorded the final path.  If a crash interrupts, calling again finds the link by
    inode (or rewrites a partial temp file) instead of placing a second copy.  ``copy``
    writes the temp file (default: a plain copy; released originals are decrypted).
    """
    directory = Path(placement.directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{TEMP_PREFIX}{temp_key}"
    if not (tmp.exists() and sha256_of(tmp) == placement.sha256):
        tmp.unlink(missing_ok=True)
        _write_verified_copy(Path(placement.source), tmp, placement.sha256, copy or _copy_plain)
    final = _existing_link(tmp, directory, placement.name) or link_without_overwrite(
        tmp, directory, placement.name
    )
    fsync_dir(directory)
    return final


def finish_placement(directory: Path, temp_key: str) -> None:
    (directory / f"{TEMP_PREFIX}{temp_key}").unlink(missing_ok=True)


def _existing_link(tmp: Path, directory: Path, name: str) -> Path | None:
    info = tmp.stat()
    if info.st_nlink < 2:
        return None
    for candidate in candidate_names(name):
        path = directory / candidate
        try:
            other = path.lstat()
        except FileNotFoundError:
            return None
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return path
    return None


def _copy_plain(source: Path, tmp: Path) -> str:
    with source.open("rb") as reader:
        return copy_durably(reader, tmp)


def _write_verified_copy(source: Path, tmp: Path, expected_sha256: str, copy: Copier) -> None:
    written = copy(source, tmp)
    if written != expected_sha256:
        tmp.unlink()
        raise OSError(errno.EIO, f"{source} no longer has the recorded hash")
