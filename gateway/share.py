"""Touching entries of a staff share without ever following a symbolic link.

Staff control the share's tree: a folder can be swapped for a symlink to /etc, or to
another channel's outbox, between the moment we look and the moment we act. So every
operation walks from the inbox root one component at a time with O_NOFOLLOW and acts
on the last component relative to that directory descriptor (``*at`` system calls).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath

#: Sent to us if a writer opens a leased file: ignored by default, so it cannot stop the
#: daemon (SIGIO, the kernel's default for leases, would); the lease state tells instead.
_LEASE_BREAK_SIGNAL = signal.SIGURG


class OutsideShareError(Exception):
    """A folder on the way to the entry is a symbolic link or not a folder any more."""


class OpenForWritingError(Exception):
    """Someone (an SMB client pausing mid-copy, say) still has the file open for writing."""


@contextlib.contextmanager
def writers_kept_out(fd: int) -> Iterator[Callable[[], bool]]:
    """Hold a read lease on the file open (read-only) at ``fd``; yield a check that no
    writer has opened it since.

    The kernel grants the lease only while nobody has the file open for writing, so a
    file still being written (however long the writer pauses) raises OpenForWritingError
    instead of being taken half-way.  Where leases cannot be had (a file that is not ours
    without CAP_LEASE, a filesystem without leases, not a regular file) the check always
    passes and the settle time alone decides, as it would without this.
    """
    try:
        fcntl.fcntl(fd, fcntl.F_SETSIG, _LEASE_BREAK_SIGNAL)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        leased = True
    except OSError as exc:
        if exc.errno == errno.EAGAIN:
            raise OpenForWritingError("the file is still open for writing") from None
        leased = False
    if not leased:
        yield lambda: True
        return
    try:
        yield lambda: fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_RDLCK
    finally:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)


@contextlib.contextmanager
def parent_fd(root: Path, relative: PurePath) -> Iterator[int]:
    """A descriptor of ``root / relative.parent`` reached without following any symlink."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in relative.parent.parts:
            try:
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    raise OutsideShareError(f"{relative.parent} is not a plain folder of the share") from None
                raise
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


def lstat_entry(root: Path, relative: PurePath) -> os.stat_result:
    with parent_fd(root, relative) as fd:
        return os.stat(relative.name, dir_fd=fd, follow_symlinks=False)


def move_entry(root: Path, relative: PurePath, target: Path) -> None:
    """rename(2) the entry itself (a symlink stays a symlink) to ``target``, unless someone
    has it open for writing (OpenForWritingError; the entry stays where it was)."""
    with parent_fd(root, relative) as dir_fd:
        try:
            fd = os.open(relative.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.rename(relative.name, target, src_dir_fd=dir_fd)  # the spool refuses it
            return
        try:
            with writers_kept_out(fd) as unopened:
                os.rename(relative.name, target, src_dir_fd=dir_fd)
                if not unopened():
                    _give_back(target, relative.name, dir_fd)
        finally:
            os.close(fd)


def _give_back(target: Path, name: str, dir_fd: int) -> None:
    """A writer opened the file while it was being moved: put it back for them."""
    try:
        os.link(target, name, dst_dir_fd=dir_fd)
    except FileExistsError:
        return  # the name is taken again: what was moved stays staged
    target.unlink()
    raise OpenForWritingError("the file was opened for writing while it was being staged")


def open_entry(root: Path, relative: PurePath) -> int:
    """A read descriptor of the entry; refuses a symlink (ELOOP) and never blocks on a FIFO."""
    with parent_fd(root, relative) as fd:
        return os.open(relative.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)


def unlink_entry(root: Path, relative: PurePath) -> None:
    with parent_fd(root, relative) as fd:
        os.unlink(relative.name, dir_fd=fd)
