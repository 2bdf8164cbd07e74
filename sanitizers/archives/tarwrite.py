"""The rebuilt members written as a tar (``output_format = "same"`` for tar inputs) and read
back by Python's own tarfile, a reader independent of libarchive that read the input.

POSIX pax format: names are UTF-8 whatever they are, every member a plain file or a
folder with ordinary permissions, no owner names.  A compressed tar comes out as tar.gz.
"""

from __future__ import annotations

import calendar
import gzip
import io
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sanitizers.archives.budget import CHUNK, RATIO_FLOOR, TreeBudget, copy_bounded
from sanitizers.archives.members import (
    REMOVED_LIST_NAME,
    DateTime,
    Folder,
    Released,
    Removed,
    UniqueNames,
    final_names,
    now,
    removed_list,
)
from sanitizers.archives.names import safe_member_path
from sanitizers.base import Limits
from sanitizers.errors import LimitError, MalformedError, VerifyError

_GZIP_MAGIC = b"\x1f\x8b"
#: what a pax header of ours may say (tarfile writes the path and size it cannot fit otherwise)
_PAX_KEYS = frozenset({"path", "size", "mtime"})


def write_tar(
    output: Path, folders: list[Folder], released: list[Released], removed: list[Removed], compress: bool
) -> list[str]:
    """Write the new archive (gzip-compressed when ``compress``); returns its names in order."""
    final = final_names(folders, released, removed)
    names: list[str] = []
    with tarfile.open(
        output, "w:gz" if compress else "w", format=tarfile.PAX_FORMAT, encoding="utf-8"
    ) as tar:
        for folder in folders:
            tar.addfile(_new_info(folder.name, folder.date_time, folder=True))
            names.append(folder.name)
        for item, final_name in zip(released, final, strict=True):
            info = _new_info(final_name, item.date_time, folder=False)
            info.size = item.output_path.stat().st_size
            with item.output_path.open("rb") as src:
                tar.addfile(info, src)
            item.output_path.unlink()
            names.append(final_name)
        if removed:
            listing = removed_list(removed)
            info = _new_info(REMOVED_LIST_NAME, now(), folder=False)
            info.size = len(listing)
            tar.addfile(info, io.BytesIO(listing))
            names.append(REMOVED_LIST_NAME)
    return names


def _new_info(name: str, date_time: DateTime, folder: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.rstrip("/"))
    info.type = tarfile.DIRTYPE if folder else tarfile.REGTYPE
    info.mode = 0o755 if folder else 0o644
    info.mtime = calendar.timegm((*date_time, 0, 0, 0))
    return info


def tar_members(
    untrusted_data: bytes, limits: Limits, budget: TreeBudget
) -> Iterator[tuple[str, bytes | None]]:
    """A tar (or tar.gz) we claim to have written, read strictly: (name, data) for each file,
    (name ending in "/", None) for each folder; anything a rebuild never writes refuses it.
    Every byte decompressed is counted, headers included."""
    for name, member in _checked_entries(untrusted_data, limits, budget):
        if member is None:
            yield name, None
            continue
        buffer = io.BytesIO()
        copy_bounded(member, buffer, len(untrusted_data), limits, budget, name)
        yield name, buffer.getvalue()


def verify_tar(output: Path, expected: list[str], limits: Limits) -> None:
    """Reopen what we wrote: exactly the names we meant, as plain files and folders."""
    everything = TreeBudget(limits.archive_total_size, limits.archive_members)
    names = [name for name, _ in _checked_entries(output.read_bytes(), limits, everything)]
    if names != expected:
        raise VerifyError("archive.verify_failed", "the written names differ from the intended ones")


def _checked_entries(
    untrusted_data: bytes, limits: Limits, budget: TreeBudget
) -> Iterator[tuple[str, IO[bytes] | None]]:
    def fail(why: str) -> VerifyError:
        return VerifyError("archive.verify_failed", why)

    raw: io.BufferedIOBase = io.BytesIO(untrusted_data)
    if untrusted_data.startswith(_GZIP_MAGIC):
        raw = gzip.GzipFile(fileobj=raw, mode="rb")
    stream = _Counted(raw, max(limits.archive_ratio * len(untrusted_data), RATIO_FLOOR))
    names = UniqueNames()
    try:
        with tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="strict") as tar:
            for info in tar:
                budget.take_members(1, "archive")
                if not (info.isreg() or info.isdir()) or info.pax_headers.keys() - _PAX_KEYS:
                    raise fail(f"{info.name[:200]!r} is not a plain file or folder")
                name = info.name + ("/" if info.isdir() else "")
                if safe_member_path(name) != name:
                    raise fail(f"{name[:200]!r} is not a normalised safe path")
                names.add(name, info.isdir())
                yield name, None if info.isdir() else tar.extractfile(info)
    except (tarfile.TarError, OSError, EOFError, zlib.error, UnicodeError, MalformedError) as exc:
        raise fail(f"the rebuilt archive does not reopen cleanly: {exc}") from None


class _Counted(io.RawIOBase):
    """A stream that refuses to give more than ``cap`` bytes (a decompression bomb)."""

    def __init__(self, inner: io.BufferedIOBase, cap: int) -> None:
        self.inner, self.cap, self.total = inner, cap, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(min(len(buffer), CHUNK))
        self.total += len(data)
        if self.total > self.cap:
            raise LimitError("archive.bomb", "the archive decompresses beyond archive_ratio")
        buffer[: len(data)] = data
        return len(data)
