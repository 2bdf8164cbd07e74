"""Touching entries of a staff share without ever following a symbolic link.

Staff control the share's tree: a folder can be swapped for a symlink to /etc, or to
another channel's outbox, between the moment we look and the moment we act. So every
operation walks from the inbox root one component at a time with O_NOFOLLOW and acts
on the last component relative to that directory descriptor (``*at`` system calls).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path, PurePath


class OutsideShareError(Exception):
    """A folder on the way to the entry is a symbolic link or not a folder any more."""


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
    """rename(2) the entry itself (a symlink stays a symlink) to ``target``."""
    with parent_fd(root, relative) as fd:
        os.rename(relative.name, target, src_dir_fd=fd)


def open_entry(root: Path, relative: PurePath) -> int:
    """A read descriptor of the entry; refuses a symlink (ELOOP) and never blocks on a FIFO."""
    with parent_fd(root, relative) as fd:
        return os.open(relative.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)


def unlink_entry(root: Path, relative: PurePath) -> None:
    with parent_fd(root, relative) as fd:
        os.unlink(relative.name, dir_fd=fd)
