"""File names from the share: which to wait for, and how to make them safe to write.

Names come from staff (and from whoever sent the file), so they are cleaned before they
are used for anything on the other side: no control, line-break or bidi characters (an RTLO
turns ``invoice‮fdp.exe`` into ``invoiceexe.pdf`` on screen), nothing invisible (zero-width
characters, soft hyphens, fillers that show as blank), no path separators, no Windows
reserved device names, no trailing dots or spaces, and a bounded length.

Zip members are held to the same characters in ``sanitizers.archives.names``, where a
member so named is refused rather than renamed (its name may be referred to elsewhere).
"""

from __future__ import annotations

import fnmatch
import unicodedata
from pathlib import PurePath

from sanitizers.archives.names import hides_in_a_name

MAX_NAME_BYTES = 240  # leaves room for " (12).reason.txt" under the usual 255-byte limit

#: Names Office, Explorer and browsers use while a file is still being written.
TEMPORARY_PATTERNS: tuple[str, ...] = (
    "~$*",
    "*.tmp",
    ".~lock.*#",
    "*.part",
    "*.crdownload",
    "*.partial",
    "thumbs.db",
    "desktop.ini",
    ".ds_store",
    ".*",  # hidden dot-files, our own temp names among them
)

_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_FORBIDDEN_CHARS = frozenset('<>:"/\\|?*')
#: Categories replaced by "_": controls, line and paragraph separators, surrogates,
#: private-use and unassigned code points (whose look depends on the font).
_REPLACED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs", "Co", "Cn"})


def is_temporary(name: str) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in TEMPORARY_PATTERNS)


def clean_name(untrusted_name: str) -> str:
    """A name safe to create on Linux and to show on Windows; never empty."""
    text = unicodedata.normalize("NFC", untrusted_name)
    kept = []
    for char in text:
        if hides_in_a_name(char):  # removed outright (sanitizers.archives.names)
            continue
        category = unicodedata.category(char)
        kept.append("_" if category in _REPLACED_CATEGORIES or char in _FORBIDDEN_CHARS else char)
    name = "".join(kept).strip().rstrip(". ")
    name = name.lstrip(".") or "unnamed"  # no hidden files, no "." or ".."
    stem = PurePath(name).stem if "." in name else name
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return _shorten(name)


def clean_relative_dir(untrusted_parts: tuple[str, ...]) -> tuple[str, ...]:
    """Each folder component cleaned, so sub-folders are kept but cannot escape."""
    return tuple(clean_name(part) for part in untrusted_parts if part not in ("", ".", ".."))


def _shorten(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    suffix = PurePath(name).suffix if len(PurePath(name).suffix) <= 16 else ""
    stem = name[: len(name) - len(suffix)]
    while len((stem + "…" + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + "…" + suffix
