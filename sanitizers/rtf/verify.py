r"""Independent checks of a rebuilt RTF before it is written.

Three looks at the output, each able to stop it (``rtf.verify_failed``):

1. it parses again (balanced, ``\rtf1`` header, nothing after the document group) and
   no control word of an object, a template, a denied destination or ``\bin`` is
   anywhere in its token stream;
2. a second rebuild would change nothing: every group is one the rules keep, so no
   dropped destination, unwanted picture, DDE/external field instruction or removed
   comment is left, and every picture's data is an image as the rebuild writes one
   (checked, not rebuilt again: ``pictures.py``);
3. a byte-level search that trusts no tokeniser: every ``\obj...`` or ``\bin`` in the
   raw bytes must be text, that is preceded by an odd number of backslashes (an escaped
   backslash), and not by a byte that could start a Shift_JIS character and swallow the
   first backslash in a reader that decodes before it tokenises.
"""

from __future__ import annotations

from sanitizers.base import Limits
from sanitizers.errors import SanitizeError, VerifyError
from sanitizers.links import KEEP_WEB
from sanitizers.rtf.destinations import DENIED_DESTINATIONS, KEEP_COMMENTS, OBJECT_PREFIX
from sanitizers.rtf.pictures import CheckPicture
from sanitizers.rtf.tree import Group, parse_document
from sanitizers.rtf.writer import plan_rebuild

FORBIDDEN_WORDS = DENIED_DESTINATIONS | {"template", "bin"}
_BACKSLASH = 0x5C
_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def verify_rebuilt(
    output: bytes, limits: Limits, pictures: str, links: str = KEEP_WEB, comments: str = KEEP_COMMENTS
) -> None:
    try:
        document = parse_document(output, limits)
        words = _words_in(document.root) | {document.header.name}
        plan = plan_rebuild(document, output, pictures, links, comments, picture_step=CheckPicture(limits))
    except SanitizeError as exc:
        raise VerifyError("rtf.verify_failed", f"the output does not parse again: {exc.detail}") from None
    left = sorted(w for w in words if w in FORBIDDEN_WORDS or w.startswith(OBJECT_PREFIX))
    if left:
        raise VerifyError("rtf.verify_failed", f"the output still has \\{left[0]}")
    if plan.edits:
        kinds = ", ".join(sorted({f.construct for f in plan.findings}))
        raise VerifyError("rtf.verify_failed", f"a second pass would still remove {kinds}")
    raw = raw_object_words(output)
    if raw:
        raise VerifyError("rtf.verify_failed", f"raw bytes hold a control word at offset {raw[0]}")


def raw_object_words(data: bytes) -> list[int]:
    r"""Offsets of ``\obj...`` and ``\bin`` that cannot be shown to be text."""
    found: list[int] = []
    for needle in (b"\\obj", b"\\bin"):
        at = data.find(needle)
        while at != -1:
            end = at + len(needle)
            other_word = needle == b"\\bin" and end < len(data) and data[end] in _LETTERS
            if not other_word and not _is_escaped_text(data, at):
                found.append(at)
            at = data.find(needle, at + 1)
    return sorted(found)


def _is_escaped_text(data: bytes, at: int) -> bool:
    run_start = at
    while run_start > 0 and data[run_start - 1] == _BACKSLASH:
        run_start -= 1
    escaped = (at - run_start) % 2 == 1
    return escaped and not (run_start > 0 and _is_shift_jis_lead(data[run_start - 1]))


def _is_shift_jis_lead(byte: int) -> bool:
    return 0x81 <= byte <= 0x9F or 0xE0 <= byte <= 0xFC


def _words_in(group: Group) -> set[str]:
    """Every control word in ``group`` and below (the tree keeps each group's words)."""
    found = set(group.words)
    for child in group.children:
        found |= _words_in(child)
    return found
