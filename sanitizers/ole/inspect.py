"""What an untrusted compound file contains: its entries, read through olefile under limits.

olefile trusts nothing it has not checked (sector chains, directory loops), but it will
read whatever a stream claims to hold; the directory is therefore bounded by
``limits.archive_members`` entries and every stream by the file's own size (CFB does not
compress, so a larger stream is a lie) and ``limits.max_stream_size`` before any read.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import olefile

from sanitizers.base import Limits
from sanitizers.errors import LimitError, MalformedError

#: Top-level storages and streams that hold a VBA project (Word, Excel, and stray copies).
VBA_NAMES = frozenset({"macros", "_vba_project_cur", "vba", "project", "projectwm", "_vba_project"})
#: Top-level streams that describe an OLE object or link: native data, monikers, caches.
OBJECT_DATA_NAMES = frozenset({"\x01ole", "\x01ole10native", "\x03objinfo", "\x03eprint"})
SUMMARY_STREAMS = frozenset({"\x05SummaryInformation", "\x05DocumentSummaryInformation"})


@dataclass(frozen=True)
class OleEntry:
    path: tuple[str, ...]
    is_storage: bool
    size: int

    @property
    def name(self) -> str:
        return "/".join(self.path)


@dataclass
class CompoundFile:
    """An opened compound file whose directory has been checked against the limits."""

    root_clsid: uuid.UUID | None
    entries: list[OleEntry]
    _ole: olefile.OleFileIO[str]

    def top_level_streams(self) -> dict[str, int]:
        """Name → size of the streams directly under the root."""
        return {e.path[0]: e.size for e in self.entries if len(e.path) == 1 and not e.is_storage}

    def read(self, name: str) -> bytes:
        """A top-level stream's bytes; the size was bounded when the file was opened."""
        try:
            with self._ole.openstream(name) as stream:
                data: bytes = stream.read()
        except Exception as exc:  # olefile raises many kinds of errors on hostile input
            raise MalformedError("ole.malformed", f"stream {name!r} cannot be read: {exc}") from None
        if len(data) != self.top_level_streams()[name]:
            raise MalformedError("ole.malformed", f"stream {name!r} is shorter than its directory entry says")
        return data


def printable_name(name: str) -> str:
    """Entry names start with control characters (\\x01CompObj); show them escaped."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in name)


@contextmanager
def open_compound(untrusted: bytes, limits: Limits, *, strict: bool = False) -> Iterator[CompoundFile]:
    """Open ``untrusted`` (the whole file) or raise ole.malformed / ole.limit.

    ``strict`` also refuses what olefile calls incorrect but tolerates: the rebuild's own
    output must be a correct compound file, not merely a readable one.
    """
    defects = olefile.DEFECT_INCORRECT if strict else olefile.DEFECT_FATAL
    try:
        ole: olefile.OleFileIO[str] = olefile.OleFileIO(io.BytesIO(untrusted), raise_defects=defects)
    except Exception as exc:  # olefile raises many kinds of errors on hostile input
        raise MalformedError("ole.malformed", f"not a readable compound file: {exc}") from None
    try:
        yield CompoundFile(_root_clsid(ole), _checked_entries(ole, len(untrusted), limits), ole)
    finally:
        ole.close()


def _root_clsid(ole: olefile.OleFileIO[str]) -> uuid.UUID | None:
    text = ole.root.clsid if ole.root is not None else ""
    return uuid.UUID(text) if text else None


def _checked_entries(ole: olefile.OleFileIO[str], file_size: int, limits: Limits) -> list[OleEntry]:
    # olefile has read the whole directory by now; its stubs omit the attribute.
    untrusted_count = len(ole.direntries)  # type: ignore[attr-defined]
    if untrusted_count > limits.archive_members:
        raise LimitError(
            "ole.limit",
            f"{untrusted_count} directory entries exceed archive_members {limits.archive_members}",
        )
    try:
        paths = ole.listdir(streams=True, storages=True)
        entries = []
        for path in paths:
            is_storage = ole.get_type(path) == olefile.STGTY_STORAGE
            entries.append(OleEntry(tuple(path), is_storage, 0 if is_storage else ole.get_size(path)))
    except Exception as exc:  # olefile raises many kinds of errors on hostile input
        raise MalformedError("ole.malformed", f"the directory cannot be walked: {exc}") from None
    bound = min(file_size, limits.max_stream_size)
    for entry in entries:
        if entry.size > bound:
            raise MalformedError(
                "ole.malformed",
                f"stream {printable_name(entry.name)!r} claims {entry.size} bytes (> {bound})",
            )
    return entries
