"""Member names: decoded the way Japanese senders' tools wrote them, then judged safe or not.

A ZIP says a name is UTF-8 with general-purpose flag bit 11.  Without it the bytes are
whatever the sender's system used: UTF-8 from macOS, CP932 from Windows' built-in
"compressed folder".  Info-ZIP may add the UTF-8 name in an extra field (0x7075).
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zipfile
import zlib
from pathlib import PurePosixPath

from sanitizers.errors import MalformedError

UTF8_FLAG = 0x800
_UNICODE_PATH_EXTRA = 0x7075
_FORBIDDEN_CHARACTERS = frozenset('\\:<>"|?*')
#: Letters or marks that render as nothing: Hangul fillers, the combining grapheme joiner,
#: Khmer's inherent vowels.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5")
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)


def raw_name(info: zipfile.ZipInfo) -> bytes:
    """The name's bytes as stored (zipfile decoded them as CP437, a lossless byte map)."""
    if info.flag_bits & UTF8_FLAG:
        return info.orig_filename.encode("utf-8")
    return info.orig_filename.encode("cp437")


def _unicode_path_field(extra: bytes, raw: bytes) -> str | None:
    """The Info-ZIP Unicode Path extra field, if present and made for this very name."""
    pos = 0
    while pos + 4 <= len(extra):
        field_id, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if field_id != _UNICODE_PATH_EXTRA or len(body) < 5 or body[0] != 1:
            continue
        (name_crc,) = struct.unpack_from("<I", body, 1)
        if name_crc != zlib.crc32(raw):
            return None  # written for another name: stale, must not be believed
        try:
            return body[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def decode_name(info: zipfile.ZipInfo) -> str | None:
    """The member's name as Unicode, or None when no encoding we know fits its bytes."""
    if info.flag_bits & UTF8_FLAG:
        return info.orig_filename
    raw = raw_name(info)
    from_extra = _unicode_path_field(info.extra, raw)
    if from_extra is not None:
        return from_extra
    return decode_raw_name(raw)


def decode_raw_name(raw: bytes) -> str | None:
    """A name stored without its encoding (old ZIP, tar, LZH, CAB) as Unicode, or None."""
    # UTF-8 first: CP932 bytes are almost never valid UTF-8, the reverse is common.
    for codec in ("utf-8", "cp932"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


def renamed(index: int, raw: bytes) -> str:
    """A stand-in for an undecodable name; the extension is kept so the type still agrees."""
    match = re.search(rb"\.([A-Za-z0-9]{1,10})$", raw.rstrip(b"/"))
    extension = f".{match.group(1).decode('ascii')}" if match else ""
    return f"_mukaika_renamed/{index:04d}{extension}" + ("/" if raw.endswith(b"/") else "")


def hides_in_a_name(ch: str) -> bool:
    """A character that changes how a name reads without showing itself: format characters
    (Cf: bidi overrides, embeddings and isolates that reorder "invoice\u202ecod.exe", U+061C,
    zero-width space and joiners, U+2060, U+FEFF, soft hyphen, tags) and invisible letters."""
    return unicodedata.category(ch) == "Cf" or ch in INVISIBLE_LETTERS


def safe_member_path(name: str) -> str:
    """The name, normalised (NFC, no ``.`` parts), if extracting it on Windows or Unix
    stays inside the target folder and shows what it is; else ``archive.unsafe_path``."""

    def unsafe(why: str) -> MalformedError:
        return MalformedError("archive.unsafe_path", f"{name[:200]!r}: {why}")

    if not name or name.startswith("/"):
        raise unsafe("empty or absolute path")
    if re.match(r"[A-Za-z]:", name):
        raise unsafe("drive letter")
    is_dir = name.endswith("/")
    parts: list[str] = []
    for part in unicodedata.normalize("NFC", name.rstrip("/") if is_dir else name).split("/"):
        if part == ".":
            continue
        if part in ("", ".."):
            raise unsafe("empty or parent ('..') path component")
        if any(ch in _FORBIDDEN_CHARACTERS for ch in part):
            raise unsafe('backslash or a character Windows forbids (:<>"|?*)')
        if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") or hides_in_a_name(ch) for ch in part):
            raise unsafe("control, text-direction or invisible character")
        if part != part.rstrip(" ."):
            raise unsafe("trailing dot or space (Windows drops them)")
        if PurePosixPath(part).stem.split(".")[0].lower() in _WINDOWS_DEVICES:
            raise unsafe("Windows device name")
        parts.append(part)
    if not parts:
        raise unsafe("no name left")
    return "/".join(parts) + ("/" if is_dir else "")


def collision_key(name: str) -> str:
    """Names Windows (case-insensitive, NFC-normalising tools) would treat as one."""
    return unicodedata.normalize("NFC", name.rstrip("/")).casefold()
