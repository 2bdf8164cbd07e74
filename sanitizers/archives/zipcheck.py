"""The central directory judged before a single byte is decompressed.

Refusals here are cheap and certain: encryption, split archives, links, unknown methods,
unsafe or ambiguous names, declared sizes beyond the limits, entries whose data overlap
(the non-recursive zip bomb).  Declared sizes are used only to refuse early; what is
accepted is still counted while it is decompressed (``budget.copy_bounded``).
"""

from __future__ import annotations

import io
import itertools
import lzma
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sanitizers.archives.budget import TreeBudget, Writable, copy_bounded, member_cap
from sanitizers.archives.members import UniqueNames
from sanitizers.archives.names import decode_name, raw_name, renamed, safe_member_path
from sanitizers.base import Limits
from sanitizers.errors import AmbiguousStructureError, EncryptedError, LimitError, MalformedError

_ENCRYPTED = 0x1
_STRONG_ENCRYPTION = 0x40
_ENCRYPTED_CENTRAL_DIRECTORY = 0x2000
_AES = 99  # WinZip AES marks its entries with this method
SUPPORTED_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
#: A split archive's first segment starts with the spanning marker instead of a header.
_SPANNING_MARKER = b"PK\x07\x08"


@dataclass(frozen=True)
class Entry:
    """A member that passed the checks, with the name it will have in the output."""

    info: zipfile.ZipInfo
    name: str
    renamed_from: bytes | None = None

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def _readable(untrusted_src: Path | bytes) -> IO[bytes]:
    """The archive as a file to read: a file on disk, or one in memory (a nested archive
    the output verifier holds as bytes, since it may write nowhere)."""
    return untrusted_src.open("rb") if isinstance(untrusted_src, Path) else io.BytesIO(untrusted_src)


@contextmanager
def open_zip(untrusted_src: Path | bytes) -> Iterator[zipfile.ZipFile]:
    """The archive opened for reading; what zipfile refuses becomes a reason code."""
    with _readable(untrusted_src) as f:
        if f.read(4) == _SPANNING_MARKER:
            raise MalformedError("archive.malformed", "first segment of a split (spanned) archive")
    try:
        archive = zipfile.ZipFile(
            untrusted_src if isinstance(untrusted_src, Path) else io.BytesIO(untrusted_src)
        )
    except UnicodeDecodeError as exc:
        raise MalformedError("archive.name_encoding", f"a name flagged UTF-8 is not UTF-8: {exc}") from None
    except NotImplementedError as exc:
        raise MalformedError("archive.compression_unsupported", str(exc)) from None
    except zipfile.BadZipFile as exc:
        raise MalformedError("archive.malformed", str(exc)) from None
    except (OSError, EOFError, ValueError, struct.error) as exc:
        raise MalformedError("archive.malformed", f"central directory cannot be read: {exc}") from None
    with archive:
        yield archive


def check_entries(
    archive: zipfile.ZipFile, untrusted_src: Path | bytes, limits: Limits, undecodable: str
) -> list[Entry]:
    """Every entry, judged; raises on the first reason to refuse the whole archive."""
    infos = archive.infolist()
    if len(infos) > limits.archive_members:
        raise LimitError("archive.bomb", f"{len(infos)} entries, archive_members is {limits.archive_members}")
    for info in infos:
        _check_flags(info)
    entries = [_named(index, info, undecodable) for index, info in enumerate(infos)]
    _check_unique(entries)
    _check_declared_sizes(entries, limits)
    with _readable(untrusted_src) as f:
        _check_layout(f, entries, archive.start_dir)
    return entries


def _check_flags(info: zipfile.ZipInfo) -> None:
    where = repr(info.orig_filename[:200])
    if (
        info.flag_bits & (_ENCRYPTED | _STRONG_ENCRYPTION | _ENCRYPTED_CENTRAL_DIRECTORY)
        or info.compress_type == _AES
    ):
        raise EncryptedError("archive.encrypted", f"{where} is password-protected (encrypted)")
    if info.volume != 0:
        raise MalformedError("archive.malformed", f"{where} lies on another disk of a split archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise MalformedError("archive.unsafe_path", f"{where} is a symbolic link")
    if info.compress_type not in SUPPORTED_METHODS:
        raise MalformedError("archive.compression_unsupported", f"{where} uses method {info.compress_type}")


def _named(index: int, info: zipfile.ZipInfo, undecodable: str) -> Entry:
    name = decode_name(info)
    if name is not None:
        return Entry(info, safe_member_path(name))
    raw = raw_name(info)
    if undecodable != "rename":
        raise MalformedError("archive.name_encoding", f"{raw[:200]!r} is neither UTF-8 nor CP932")
    return Entry(info, renamed(index, raw), renamed_from=raw)


def _check_unique(entries: list[Entry]) -> None:
    names = UniqueNames()
    for entry in entries:
        names.add(entry.name, entry.is_dir)


def _check_declared_sizes(entries: list[Entry], limits: Limits) -> None:
    total = 0
    for entry in entries:
        info = entry.info
        if info.file_size > member_cap(info.compress_size, limits):
            raise LimitError(
                "archive.bomb",
                f"{entry.name[:200]!r} declares {info.file_size} bytes from {info.compress_size} "
                f"(archive_member_size {limits.archive_member_size}, archive_ratio {limits.archive_ratio})",
            )
        total += info.file_size
    if total > limits.archive_total_size:
        raise LimitError(
            "archive.bomb",
            f"members declare {total} bytes, archive_total_size is {limits.archive_total_size}",
        )


def _check_layout(f: IO[bytes], entries: list[Entry], central_directory: int) -> None:
    """Each entry's local header and data in a range of its own, before the directory."""
    spans: list[tuple[int, int, str]] = []
    for entry in entries:
        info = entry.info
        # zipfile shifts offsets by the bytes it finds before the archive: that can go below 0
        header = b""
        if info.header_offset >= 0:
            f.seek(info.header_offset)
            header = f.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or not header.startswith(_LOCAL_SIGNATURE):
            raise MalformedError("archive.malformed", f"{entry.name[:200]!r}: no local header where declared")
        fields = _LOCAL_HEADER.unpack(header)
        if fields[2] & (_ENCRYPTED | _STRONG_ENCRYPTION):
            raise EncryptedError(
                "archive.encrypted", f"{entry.name[:200]!r} is password-protected (encrypted)"
            )
        data_end = info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10] + info.compress_size
        spans.append((info.header_offset, data_end, entry.name))
    spans.sort()
    for (_, end, name), (start, _, next_name) in itertools.pairwise(spans):
        if start < end:
            raise AmbiguousStructureError(
                "archive.malformed",
                f"entries {name[:100]!r} and {next_name[:100]!r} overlap (zip bomb construction)",
            )
    if spans and spans[-1][1] > central_directory:
        raise AmbiguousStructureError(
            "archive.malformed", f"{spans[-1][2][:200]!r} runs into the central directory"
        )


def extract_entry(
    archive: zipfile.ZipFile,
    entry: Entry,
    out: Writable,
    limits: Limits,
    budget: TreeBudget,
    malformed: str = "archive.malformed",
) -> int:
    """Decompress one accepted entry into ``out``, counting what it produces against the
    limits; what zipfile cannot decompress becomes ``malformed``.  Returns the bytes written."""
    try:
        with archive.open(entry.info) as untrusted_stream:
            return copy_bounded(untrusted_stream, out, entry.info.compress_size, limits, budget, entry.name)
    # NotImplementedError: a feature zipfile does not read (patched data, flag bit 5)
    except (
        zipfile.BadZipFile,
        zlib.error,
        lzma.LZMAError,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
    ) as exc:
        raise MalformedError(malformed, f"{entry.name}: cannot be decompressed: {exc}") from None
