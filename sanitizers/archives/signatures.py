"""Which archive format a file's content is, from the signatures each format starts with.

Detection (``sanitizers.detect``) and the archive rebuild ask the same question here, so
that the rebuild opens a file with the very reader its detected type names.
"""

from __future__ import annotations

import re
from pathlib import Path

_AT_START: tuple[tuple[bytes, str], ...] = (
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07\x00", "rar"),
    (b"Rar!\x1a\x07\x01\x00", "rar"),
    (b"MSCF\x00\x00\x00\x00", "cab"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_BZIP2 = re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)")
#: LHA: the header's size, its checksum, then the method ("-lh5-", "-lhd-", "-lzs-"), with
#: the header level (0 to 3) at offset 20.
_LHA_METHOD = re.compile(rb"-l[hz][0-9a-z]-")
TAR_BLOCK = 512
_TAR_CHECKSUM = slice(148, 156)
_ISO_OFFSET = 0x8001  # the first volume descriptor's identifier, after a 32 KiB system area
_ISO_MAGIC = b"CD001"


def archive_type(untrusted: Path | bytes) -> str | None:
    """The canonical type of an archive or compressed stream other than ZIP, or None."""
    head = _read(untrusted, 0, TAR_BLOCK)
    for signature, type_name in _AT_START:
        if head.startswith(signature):
            return type_name
    if _BZIP2.match(head):
        return "bzip2"
    if len(head) > 21 and _LHA_METHOD.fullmatch(head[2:7]) and head[0] > 0 and head[20] <= 3:
        return "lzh"
    if is_tar_header(head):
        return "tar"
    if _read(untrusted, _ISO_OFFSET, len(_ISO_MAGIC)) == _ISO_MAGIC:
        return "iso"
    return None


def _read(untrusted: Path | bytes, offset: int, size: int) -> bytes:
    if isinstance(untrusted, bytes):
        return untrusted[offset : offset + size]
    with untrusted.open("rb") as f:
        f.seek(offset)
        return f.read(size)


def is_tar_header(block: bytes) -> bool:
    """A tar's first header: a name, then a checksum field that holds the sum of the block's
    bytes (the field itself counted as spaces), with or without the ustar magic (Unix V7 and
    old GNU tar wrote none).  The checksum is what tar readers check too: "ustar" at 257
    alone is a string any file can hold."""
    if len(block) < TAR_BLOCK or block[0] == 0:
        return False
    field = block[_TAR_CHECKSUM].rstrip(b"\x00 ")
    if not field or not re.fullmatch(rb" *[0-7]+", field):
        return False
    header = block[:TAR_BLOCK]
    unsigned = sum(header) - sum(block[_TAR_CHECKSUM]) + 8 * ord(" ")
    signed = unsigned - 256 * sum(1 for i, b in enumerate(header) if b > 127 and not 148 <= i < 156)
    return int(field, 8) in (unsigned, signed)  # some old tars summed signed bytes
