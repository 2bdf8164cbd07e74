"""Decompression accounting: bytes actually produced, never what a header claims.

One budget covers a whole archive tree: nested archives are sanitised by the same call
stack (the pipeline hands their members back to us one level deeper), so the outermost
archive opens the budget and every inner one draws on it.  A thousand small zips each
within the limits cannot add up to more than the limits allow for one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from sanitizers.base import Limits, MiB
from sanitizers.errors import LimitError

CHUNK = 1 * MiB
#: Below this size a member's ratio is not judged: a small run of spaces or zeros
#: legitimately compresses far beyond any ratio, and cannot hurt anyone.
RATIO_FLOOR = 1 * MiB


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass
class TreeBudget:
    """What the archive tree may still decompress (bytes) and hold (members)."""

    bytes_left: int
    members_left: int

    def take_members(self, count: int, where: str) -> None:
        self.members_left -= count
        if self.members_left < 0:
            raise LimitError("archive.bomb", f"{where}: more members than archive_members allows")

    def take_bytes(self, count: int, where: str) -> None:
        self.bytes_left -= count
        if self.bytes_left < 0:
            raise LimitError("archive.bomb", f"{where}: decompressed more than archive_total_size")


_TREE_BUDGET: ContextVar[TreeBudget | None] = ContextVar("mukaika_archive_tree_budget", default=None)


@contextmanager
def tree_budget(limits: Limits) -> Iterator[TreeBudget]:
    """The budget of the archive tree this call belongs to; opened by the outermost one."""
    current = _TREE_BUDGET.get()
    if current is not None:
        yield current
        return
    budget = TreeBudget(limits.archive_total_size, limits.archive_members)
    token = _TREE_BUDGET.set(budget)
    try:
        yield budget
    finally:
        _TREE_BUDGET.reset(token)


def member_cap(untrusted_compressed_size: int, limits: Limits) -> int:
    """The most one member may decompress to: its size limit and the ratio limit."""
    return min(limits.archive_member_size, max(limits.archive_ratio * untrusted_compressed_size, RATIO_FLOOR))


def copy_bounded(
    untrusted_stream: Readable,
    out: Writable,
    untrusted_compressed_size: int,
    limits: Limits,
    budget: TreeBudget,
    where: str,
) -> int:
    """Copy a member in chunks, stopping as soon as what it produced passes a limit."""
    cap = member_cap(untrusted_compressed_size, limits)
    written = 0
    while chunk := untrusted_stream.read(CHUNK):
        written += len(chunk)
        if written > cap:
            which = "archive_member_size" if written > limits.archive_member_size else "archive_ratio"
            raise LimitError("archive.bomb", f"{where}: decompresses beyond {which}")
        budget.take_bytes(len(chunk), where)
        out.write(chunk)
    return written
