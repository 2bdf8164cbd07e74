"""7z, RAR, LZH, tar (plain or compressed), ISO 9660 and cab read through libarchive.

libarchive (through the ``libarchive-c`` binding) reads all of them and is fuzzed in
OSS-Fuzz; what it hands over is judged here as ``zipcheck`` judges a ZIP's directory.  Each
canonical type opens only its own format reader and decompression filter, so that a file
detected as one format is never read as another (libarchive's "all formats" would read a
text file as an mtree description).  Entries come one at a time, so everything is checked
as it streams by: names (decoded as Japanese senders' tools wrote them, then judged safe
and unique), encryption, declared sizes, and the bytes actually produced, which count
against the member's cap, the archive's ratio and the tree's budget.
"""

from __future__ import annotations

import ctypes
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import libarchive.ffi as ffi
from libarchive.exception import ArchiveError

from sanitizers.archives.budget import CHUNK, RATIO_FLOOR, TreeBudget, Writable, copy_bounded, member_cap
from sanitizers.archives.members import DateTime, MemberKind, SourceMember, UniqueNames
from sanitizers.archives.names import decode_raw_name, renamed, safe_member_path
from sanitizers.archives.signatures import TAR_BLOCK, is_tar_header
from sanitizers.base import Limits
from sanitizers.errors import EncryptedError, LimitError, MalformedError

#: Compressed streams: a tar inside, or one single compressed file.
STREAM_TYPES = frozenset({"gzip", "bzip2", "xz", "zstd"})
#: canonical type → (libarchive format readers, decompression filters)
_READERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "7z": (("7zip",), ()),
    "rar": (("rar", "rar5"), ()),
    "lzh": (("lha",), ()),
    "tar": (("tar",), ()),
    "iso": (("iso9660",), ()),
    "cab": (("cab",), ()),
    "gzip": (("tar",), ("gzip",)),
    "bzip2": (("tar",), ("bzip2",)),
    "xz": (("tar",), ("xz", "lzma")),
    "zstd": (("tar",), ("zstd",)),
}
ARCHIVE_TYPES = frozenset(_READERS)
#: libarchive's reader of a compressed stream's content as one file
_RAW = ("raw",)

_ARCHIVE_OK, _ARCHIVE_EOF, _ARCHIVE_WARN = 0, 1, -20
# Functions libarchive-c does not declare, on a handle of our own so that its declarations
# (and their error checks) stay as it made them.
_lib = ctypes.CDLL(ffi.libarchive_path)
_pathname_utf8 = _lib.archive_entry_pathname_utf8
_pathname_utf8.argtypes, _pathname_utf8.restype = [ctypes.c_void_p], ctypes.c_char_p
_is_encrypted = _lib.archive_entry_is_encrypted
_is_encrypted.argtypes, _is_encrypted.restype = [ctypes.c_void_p], ctypes.c_int
_has_encrypted_entries = _lib.archive_read_has_encrypted_entries
_has_encrypted_entries.argtypes, _has_encrypted_entries.restype = [ctypes.c_void_p], ctypes.c_int
# A warning libarchive gives for a name it could not convert to the locale: the name is
# then handed over as stored, which the decoding below deals with.
_NAME_CONVERSION_WARNING = "convert"
# ZIP cannot hold times before 1980 or after 2107; beyond them a member keeps the nearest.
_EARLIEST, _LATEST = 315_619_200, 4_354_819_199


class LibarchiveReader:
    """One archive opened by libarchive for one pass over its entries."""

    def __init__(self, archive_p: int, type_name: str) -> None:
        self._archive_p = archive_p
        self.type_name = type_name
        self._entry_p = ffi.entry_new()

    def close(self) -> None:
        ffi.entry_free(self._entry_p)

    def next_entry(self) -> bool:
        """Move to the next entry; False at the end of the archive."""
        try:
            status = ffi.read_next_header2(self._archive_p, self._entry_p)
        except ArchiveError as exc:
            raise self._refusal(exc.msg) from None
        if status == _ARCHIVE_WARN:
            message = self._error_string()
            if _NAME_CONVERSION_WARNING not in message:
                raise MalformedError("archive.malformed", f"libarchive: {message}")
        return bool(status != _ARCHIVE_EOF)

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the current entry's data; b"" at its end."""
        buffer = ctypes.create_string_buffer(size)
        try:
            count = ffi.read_data(self._archive_p, buffer, size)
        except ArchiveError as exc:
            raise self._refusal(exc.msg) from None
        if count < 0:  # a warning, for data: a checksum that does not match
            raise self._refusal(self._error_string())
        return buffer.raw[:count]

    @property
    def untrusted_name_utf8(self) -> bytes | None:
        """The name as UTF-8 where libarchive knows its encoding (7z, RAR, pax, Joliet, and
        LZH, whose CP932 it converts itself); None for bytes stored without one."""
        value: bytes | None = _pathname_utf8(self._entry_p)
        return value

    @property
    def untrusted_raw_name(self) -> bytes:
        value: bytes | None = ffi.entry_pathname(self._entry_p)
        return value or b""

    @property
    def kind(self) -> MemberKind:
        filetype = ffi.entry_filetype(self._entry_p)
        if stat.S_ISDIR(filetype):
            return MemberKind.FOLDER
        if stat.S_ISLNK(filetype) or ffi.entry_hardlink(self._entry_p) is not None:
            return MemberKind.LINK
        if stat.S_ISREG(filetype):
            return MemberKind.FILE
        return MemberKind.DEVICE

    @property
    def untrusted_size(self) -> int | None:
        if not ffi.entry_size_is_set(self._entry_p):
            return None
        return int(ffi.entry_size(self._entry_p))

    @property
    def encrypted(self) -> bool:
        return bool(_is_encrypted(self._entry_p))

    @property
    def date_time(self) -> DateTime:
        seconds = min(max(int(ffi.entry_mtime(self._entry_p)), _EARLIEST), _LATEST)
        t = time.gmtime(seconds)
        return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)

    def _error_string(self) -> str:
        message = ffi.error_string(self._archive_p)
        return message.decode("utf-8", "replace") if message else "unknown error"

    def _refusal(self, detail: object, *, opened: bool = True) -> EncryptedError | MalformedError:
        """The refusal for an error libarchive reported.  Only an opened archive may be asked
        whether it found encryption: after a failed open libarchive's reader state is gone."""
        if detail is None:
            detail = self._error_string()
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        if "encrypt" in text.lower() or (opened and _has_encrypted_entries(self._archive_p) == 1):
            return EncryptedError("archive.encrypted", f"password-protected (encrypted): {text[:200]}")
        return MalformedError("archive.malformed", f"libarchive: {text[:300]}")


def stream_holds_tar(untrusted_src: Path, type_name: str) -> bool:
    """Whether a compressed stream's content starts with a tar header, judged as detection
    judges a file (libarchive's tar reader would also take a run of zeros for an empty tar)."""
    with open_archive(untrusted_src, type_name, raw=True) as reader:
        if not reader.next_entry():
            return False
        head = b""
        while len(head) < TAR_BLOCK and (chunk := reader.read(TAR_BLOCK - len(head))):
            head += chunk
    return is_tar_header(head)


@contextmanager
def open_archive(untrusted_src: Path, type_name: str, *, raw: bool = False) -> Iterator[LibarchiveReader]:
    """The archive opened with the readers of its canonical type only; ``raw``: a compressed
    stream's content as one file."""
    formats, filters = _READERS[type_name]
    formats = _RAW if raw else formats
    archive_p = ffi.read_new()
    reader: LibarchiveReader | None = None
    try:
        for format_name in formats:
            ffi.get_read_format_function(format_name)(archive_p)
        for filter_name in filters:
            ffi.get_read_filter_function(filter_name)(archive_p)
        fd = os.open(untrusted_src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            reader = LibarchiveReader(archive_p, type_name)
            try:
                ffi.read_open_fd(archive_p, fd, CHUNK)
            except ArchiveError as exc:
                raise reader._refusal(exc.msg, opened=False) from None
            yield reader
        finally:
            os.close(fd)
    finally:
        if reader is not None:
            reader.close()
        ffi.read_free(archive_p)


class _Produced:
    """The archive's entries' data as one counted stream: libarchive cannot say what part of
    a solid block or a compressed tar belongs to which entry, so the ratio is the archive's."""

    def __init__(self, reader: LibarchiveReader, untrusted_archive_size: int, limits: Limits) -> None:
        self.reader = reader
        self.cap = max(limits.archive_ratio * untrusted_archive_size, RATIO_FLOOR)
        self.total = 0

    def read(self, size: int) -> bytes:
        chunk = self.reader.read(size)
        self.total += len(chunk)
        if self.total > self.cap:
            raise LimitError("archive.bomb", "the archive decompresses beyond archive_ratio")
        return chunk


def read_members(
    reader: LibarchiveReader,
    untrusted_archive_size: int,
    limits: Limits,
    budget: TreeBudget,
    undecodable: str,
) -> Iterator[SourceMember]:
    """Every entry, judged, as the member loop takes them; raises on the first reason to
    refuse the whole archive.  Each member must be extracted before the next is asked for."""
    produced = _Produced(reader, untrusted_archive_size, limits)
    names = UniqueNames()
    index = 0
    while reader.next_entry():
        kind = reader.kind
        name, renamed_from = _named(reader, index, kind, undecodable)
        index += 1
        if name is None:
            continue
        budget.take_members(1, "archive")
        if reader.encrypted:
            raise EncryptedError("archive.encrypted", f"{name[:200]!r} is password-protected (encrypted)")
        names.add(name, kind is MemberKind.FOLDER)
        _check_declared_size(name, reader.untrusted_size, untrusted_archive_size, limits, budget)
        extract = partial(_extract, produced, untrusted_archive_size, limits, budget, name)
        yield SourceMember(name, kind, reader.date_time, extract, renamed_from)


def _extract(
    produced: _Produced, untrusted_archive_size: int, limits: Limits, budget: TreeBudget, name: str,
    out: Writable,
) -> int:  # fmt: skip
    return copy_bounded(produced, out, untrusted_archive_size, limits, budget, name)


def _named(
    reader: LibarchiveReader, index: int, kind: MemberKind, undecodable: str
) -> tuple[str | None, bytes | None]:
    """The entry's safe name (folders end in "/"), or None for the archive's root folder."""
    raw = reader.untrusted_raw_name
    name = _decoded(reader.untrusted_name_utf8) or decode_raw_name(raw)
    renamed_from = None
    if name is None:
        if undecodable != "rename":
            raise MalformedError("archive.name_encoding", f"{raw[:200]!r} is neither UTF-8 nor CP932")
        name, renamed_from = renamed(index, raw).rstrip("/"), raw
    if reader.type_name == "cab":
        name = name.replace("\\", "/")  # a cabinet's separator, left alone in names not UTF-8
    if kind is MemberKind.FOLDER:
        if name.strip("/") in ("", "."):
            return None, None  # the root itself ("./" in a tar, "." on a disc): nothing to make
        name = name.rstrip("/") + "/"
    elif name.endswith("/"):
        raise MalformedError("archive.malformed", f"{name[:200]!r} is not a folder but named as one")
    return safe_member_path(name), renamed_from


def _decoded(untrusted_utf8: bytes | None) -> str | None:
    if not untrusted_utf8:
        return None
    try:
        return untrusted_utf8.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _check_declared_size(
    name: str, untrusted_size: int | None, untrusted_archive_size: int, limits: Limits, budget: TreeBudget
) -> None:
    """Refuse early what the header already says is too much; what is accepted is still
    counted as it is produced."""
    if untrusted_size is None:
        return
    if untrusted_size > member_cap(untrusted_archive_size, limits):
        raise LimitError(
            "archive.bomb",
            f"{name[:200]!r} declares {untrusted_size} bytes in an archive of {untrusted_archive_size} "
            f"(archive_member_size {limits.archive_member_size}, archive_ratio {limits.archive_ratio})",
        )
    if untrusted_size > budget.bytes_left:
        raise LimitError("archive.bomb", f"{name[:200]!r} declares more than archive_total_size allows")


def read_single_file(
    reader: LibarchiveReader, untrusted_archive_size: int, limits: Limits, budget: TreeBudget, out: Writable
) -> int:
    """The content of a compressed single file (what libarchive's raw reader found), counted."""
    if not reader.next_entry():
        raise MalformedError("archive.malformed", "the compressed stream holds nothing")
    produced = _Produced(reader, untrusted_archive_size, limits)
    return copy_bounded(produced, out, untrusted_archive_size, limits, budget, "the compressed file")
