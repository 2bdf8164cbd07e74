"""Archive formats we do not open: refused with a reason that names the format.

Only ZIP is rebuilt member by member.  7z, RAR, LZH, tar, gzip and disk images would each
need a second extractor to trust (and 7z/RAR can hide even their file names behind a
password); the sender can as well send a ZIP.  Registered under ``rebuild`` so that a
rule asking to rebuild one of these types gets ``archive.unsupported`` with the format
named, rather than the generic ``type.unsupported``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from sanitizers.base import Limits, Options, Report, Sanitizer
from sanitizers.errors import PolicyError

#: (offset, signature, what staff call it)
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip (.7z)"),
    (0, b"Rar!\x1a\x07", "RAR (.rar)"),
    (0, b"\x1f\x8b", "gzip (.gz)"),
    (2, b"-lh", "LHA (.lzh)"),
    (2, b"-lz", "LHA (.lzh)"),
    (257, b"ustar", "tar (.tar)"),
    (0x8001, b"CD001", "ISO 9660 disk image (.iso)"),
)
_HEAD_SIZE = 0x8001 + len(b"CD001")


def archive_format(untrusted_src: Path) -> str:
    with untrusted_src.open("rb") as f:
        head = f.read(_HEAD_SIZE)
    for offset, signature, label in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return label
    return "this archive format"


class ArchiveRefusal(Sanitizer):
    """Refuses 7z, RAR, LZH, tar, gzip and disk images with ``archive.unsupported``."""

    types: ClassVar[frozenset[str]] = frozenset({"7z", "rar", "tar", "gzip", "lzh", "iso"})
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        raise PolicyError(
            "archive.unsupported",
            f"{archive_format(untrusted_src)} is not opened; "
            "only ZIP archives are inspected member by member",
        )
