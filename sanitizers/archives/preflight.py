"""What libarchive does not say, read from an archive's own headers before it is opened.

A volume of a split set (RAR ``.part1.rar``, a 7z cut into pieces, a cabinet that names
the next one) cannot be inspected whole: libarchive would read its first entries and stop
at the cut, so it is refused as a split archive up front.  RAR 5 marks encryption in each
file header's extra area, which the libarchive of Debian 12 does not report: it fails to
decompress such a file with a misleading error, so the headers are walked here first.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

from sanitizers.errors import EncryptedError, MalformedError

Bytes = bytes | mmap.mmap

_RAR4 = b"Rar!\x1a\x07\x00"
_RAR5 = b"Rar!\x1a\x07\x01\x00"
_SEVEN_ZIP = b"7z\xbc\xaf\x27\x1c"
_CABINET = b"MSCF\x00\x00\x00\x00"

_RAR4_MAIN, _RAR4_VOLUME = 0x73, 0x0001
_RAR5_MAIN, _RAR5_FILE, _RAR5_SERVICE, _RAR5_CRYPT, _RAR5_END = 1, 2, 3, 4, 5
_RAR5_HAS_EXTRA, _RAR5_HAS_DATA = 0x0001, 0x0002
_RAR5_SPLIT_BEFORE, _RAR5_SPLIT_AFTER = 0x0008, 0x0010
_RAR5_ARCHIVE_VOLUME, _RAR5_NOT_LAST_VOLUME = 0x0001, 0x0001
_RAR5_EXTRA_CRYPT = 0x01
#: RAR 5 blocks walked at most: an archive of more entries than archive_members is refused
#: by the member count anyway, and the walk must not be a loop an input can stretch.
_RAR5_MAX_BLOCKS = 100_000
_CABINET_PREVIOUS, _CABINET_NEXT = 0x0001, 0x0002


def split_archive(why: str) -> MalformedError:
    return MalformedError("archive.malformed", f"a volume of a split (multi-volume) archive: {why}")


def check_headers(untrusted_src: Path, type_name: str) -> None:
    """Refuse a split set's volume, and a RAR 5 archive with encrypted files."""
    with untrusted_src.open("rb") as f:
        head = f.read(64)
        size = untrusted_src.stat().st_size
        if type_name == "7z" and head.startswith(_SEVEN_ZIP) and len(head) >= 32:
            next_offset, next_size = struct.unpack_from("<QQ", head, 12)
            if 32 + next_offset + next_size > size:
                raise split_archive("its directory lies beyond the end of this file (or it is truncated)")
        elif type_name == "cab" and head.startswith(_CABINET) and len(head) >= 32:
            (flags,) = struct.unpack_from("<H", head, 30)
            if flags & (_CABINET_PREVIOUS | _CABINET_NEXT):
                raise split_archive("the cabinet continues in another one")
        elif type_name == "rar" and head.startswith(_RAR4) and len(head) >= 12:
            block_type, flags = head[9], struct.unpack_from("<H", head, 10)[0]
            if block_type == _RAR4_MAIN and flags & _RAR4_VOLUME:
                raise split_archive("the RAR archive is marked as a volume")
        elif type_name == "rar" and head.startswith(_RAR5):
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as untrusted_data:
                _walk_rar5(untrusted_data, len(_RAR5))


def _vint(data: Bytes, pos: int) -> tuple[int, int]:
    """A RAR 5 variable-length integer at ``pos``: (value, position after it)."""
    value = shift = 0
    for i in range(pos, min(pos + 10, len(data))):
        value |= (data[i] & 0x7F) << shift
        if not data[i] & 0x80:
            return value, i + 1
        shift += 7
    raise MalformedError("archive.malformed", "a RAR 5 header number runs past its end")


def _walk_rar5(untrusted_data: Bytes, pos: int) -> None:
    for _ in range(_RAR5_MAX_BLOCKS):
        if pos + 4 >= len(untrusted_data):
            return  # libarchive judges an archive that ends without its end block
        header_size, fields = _vint(untrusted_data, pos + 4)
        header_end = fields + header_size
        block_type, after = _vint(untrusted_data, fields)
        flags, after = _vint(untrusted_data, after)
        extra_size = data_size = 0
        if flags & _RAR5_HAS_EXTRA:
            extra_size, after = _vint(untrusted_data, after)
        if flags & _RAR5_HAS_DATA:
            data_size, after = _vint(untrusted_data, after)
        if header_end > len(untrusted_data) or extra_size > header_end - after:
            return  # a damaged header: libarchive refuses it with its own words
        if block_type == _RAR5_CRYPT:
            raise EncryptedError("archive.encrypted", "the RAR archive's headers (file names) are encrypted")
        if block_type == _RAR5_MAIN:
            archive_flags, _ = _vint(untrusted_data, after)
            if archive_flags & _RAR5_ARCHIVE_VOLUME:
                raise split_archive("the RAR archive is marked as a volume")
        elif block_type in (_RAR5_FILE, _RAR5_SERVICE):
            if flags & (_RAR5_SPLIT_BEFORE | _RAR5_SPLIT_AFTER):
                raise split_archive("a file continues in another volume")
            if _rar5_encrypted(untrusted_data, header_end - extra_size, header_end):
                raise EncryptedError("archive.encrypted", "a file in the RAR archive is password-protected")
        elif block_type == _RAR5_END:
            end_flags, _ = _vint(untrusted_data, after)
            if end_flags & _RAR5_NOT_LAST_VOLUME:
                raise split_archive("the RAR archive continues in another volume")
            return
        pos = header_end + data_size


def _rar5_encrypted(untrusted_data: Bytes, pos: int, end: int) -> bool:
    """Whether a file header's extra area holds an encryption record."""
    while pos < end:
        record_size, record = _vint(untrusted_data, pos)
        record_type, _ = _vint(untrusted_data, record)
        if record_type == _RAR5_EXTRA_CRYPT:
            return True
        if record_size == 0:
            return False
        pos = record + record_size
    return False
