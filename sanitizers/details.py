"""A refusal's technical detail as staff may read it.

Details come from libraries (qpdf names the file it could not open, a traceback names its
source files) and from the gateway itself (a spool path, a worker's scratch name). Staff
read them in reason files, the console, refusal notices and the list of members taken out
of a rebuilt archive or mail; none of those may show where the server keeps anything. The
journal and the log keep the detail whole for operators, so this is applied only where a
detail is written for staff.
"""

from __future__ import annotations

import re
import unicodedata

#: What stands where something was taken out.
ELIDED = "…"
MAX_STAFF_DETAIL = 500

# An absolute path of two or more components whose first one is lowercase, as every directory
# under / is ("/var/lib/...", "/tmp/..."). PDF names ("/Root", "/Type/Catalog") are capitalised,
# a relative member name ("word/document.xml", "../evil.txt") does not start at a "/", and a
# URL's "//" never starts one ("file:///etc/passwd" is what the file says, not where we keep it).
_ABSOLUTE_PATH = re.compile(
    r"(?<![\w/.~-])/[a-z0-9_.~-][^\s/'\"<>|:;,()\[\]{}]*(?:/[^\s/'\"<>|:;,()\[\]{}]*)+"
)
# A relative path that still reaches into the spool or names a transfer's folder there.
_SPOOL_PATH = re.compile(
    r"[^\s'\"<>|:;,()\[\]{}]*(?:\bspool/|\d{8}T\d{6}-[0-9a-f]{8}/)[^\s'\"<>|:;,()\[\]{}]*"
)
# Python's picture of an object ("<pikepdf.Object at 0x7f...>") and traceback lines.
_OBJECT_REPR = re.compile(r"<[^<>]{0,200}\bat 0x[0-9a-fA-F]+>")
_TRACEBACK_LINE = re.compile(r'File "[^"]*", line \d+(?:, in [\w<>.]+)?')
_SPACES = re.compile(r"\s+")


def staff_detail(detail: str | None) -> str:
    """``detail`` on one line, without server paths, spool names or library internals."""
    if not detail:
        return ""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in detail)
    for pattern in (_TRACEBACK_LINE, _OBJECT_REPR, _ABSOLUTE_PATH, _SPOOL_PATH):
        text = pattern.sub(ELIDED, text)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > MAX_STAFF_DETAIL:
        text = text[: MAX_STAFF_DETAIL - 1] + ELIDED
    return text
