r"""The rebuilt document: the input's bytes with what may not stay cut out.

Kept tokens are copied byte for byte, so text, formatting and CP932 ``\'hh`` escapes come
out exactly as they went in.  The edits are few: a dropped group is cut; a hoisted result
(``\result`` of an object, ``\fldrslt`` of a field) loses the group around it and its own
destination word; with comments removed, the ``\chatn`` marks anchoring them are cut; a
kept picture's hex digits become those of its rebuilt data (``pictures.py``); a
header other than ``\rtf1`` becomes ``\rtf1``; bytes after the document group are cut
unless they are white space.

A cut right after a control word without delimiter leaves one space, the word's own
delimiter, so that what follows the cut cannot run into the word: ``\par{\object ...}x``
must become ``\par x``, not ``\parx``.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from sanitizers.base import Finding
from sanitizers.errors import MalformedError, SanitizeError
from sanitizers.links import KEEP_WEB
from sanitizers.rtf.destinations import ANNOTATION_MARK, KEEP, KEEP_COMMENTS, KEPT_BLIPS, Verdict, judge
from sanitizers.rtf.pictures import PictureStep, hex_lines, hex_payload
from sanitizers.rtf.tokens import Kind, tokenize
from sanitizers.rtf.tree import TRAILING_WHITESPACE, Document, Group, direct_tokens

HEADER = b"\\rtf1 "
#: The destination word of a group whose content is kept without it.
_HOISTED_WORDS = ("result", "fldrslt")


@dataclass(frozen=True, order=True)
class Edit:
    """Replace ``data[start:end]`` with ``replacement``."""

    start: int
    end: int
    replacement: bytes = b""


@dataclass
class Plan:
    edits: list[Edit] = field(default_factory=list)
    counts: Counter[tuple[str, str, str | None]] = field(default_factory=Counter)

    def cut(self, start: int, end: int, after_bare_word: bool) -> None:
        self.edits.append(Edit(start, end, b" " if after_bare_word else b""))

    def note(self, construct: str, action: str, location: str | None, count: int = 1) -> None:
        self.counts[construct, action, location] += count

    @property
    def findings(self) -> list[Finding]:
        return [Finding(c, a, n, loc) for (c, a, loc), n in sorted(self.counts.items(), key=_finding_order)]


def _finding_order(item: tuple[tuple[str, str, str | None], int]) -> tuple[str, str, str]:
    (construct, action, location), _count = item
    return construct, action, location or ""


def plan_rebuild(
    document: Document,
    data: bytes,
    pictures: str,
    links: str = KEEP_WEB,
    comments: str = KEEP_COMMENTS,
    *,
    picture_step: PictureStep,
) -> Plan:
    """Every edit that makes ``data`` safe, and a finding for each kind of thing removed;
    ``picture_step`` rebuilds (or, verifying, checks) the data of every picture kept."""
    plan = Plan()
    verdict = judge(document.root, data, pictures, links, comments)
    if verdict != KEEP:
        where = f" ({verdict.location})" if verdict.location else ""
        raise MalformedError("rtf.malformed", f"the document group itself carries {verdict.construct}{where}")
    if "pict" in document.root.words:
        raise MalformedError("rtf.malformed", "the document group itself is a picture")
    header = document.header
    if (header.name, header.param) != ("rtf", 1):
        plan.edits.append(Edit(header.start, header.end, HEADER))
        plan.note("rtf.header", "repaired", data[header.start : header.end].decode("ascii").strip())
    _plan_children(document.root, data, pictures, links, comments, plan, picture_step)
    trailing = document.trailing(data)
    if trailing.translate(None, bytes(TRAILING_WHITESPACE)):
        plan.edits.append(Edit(document.trailing_start, len(data)))
        plan.note("rtf.trailing_data", "removed", f"{len(trailing)} bytes")
    if document.bins:  # every \bin goes: with the group it stands in, or with an ancestor
        plan.note("rtf.bin", "removed", None, document.bins)
    return plan


def _plan_children(
    group: Group,
    data: bytes,
    pictures: str,
    links: str,
    comments: str,
    plan: Plan,
    picture_step: PictureStep,
) -> None:
    if comments != KEEP_COMMENTS and ANNOTATION_MARK in group.words:
        _cut_annotation_marks(group, data, plan)
    for child in group.children:
        verdict = judge(child, data, pictures, links, comments)
        if verdict.action == "keep" and "pict" in child.words:
            verdict = _plan_picture(child, data, plan, picture_step)
        elif verdict.inner is not None and "pict" in verdict.inner.words:
            # a result that is itself a picture is no layout a writer produces: it goes too
            verdict = Verdict("drop", verdict.construct, verdict.location)
        if verdict.action == "keep":
            _plan_children(child, data, pictures, links, comments, plan, picture_step)
            continue
        if verdict.construct != "rtf.bin":  # counted once per \bin, in plan_rebuild
            plan.note(verdict.construct, "removed", verdict.location)
        if verdict.inner is None:
            plan.cut(child.start, child.end, child.follows_bare_word)
            continue
        inner = verdict.inner
        word = next(tokenize(data, min(inner.words[name] for name in _HOISTED_WORDS if name in inner.words)))
        plan.cut(child.start, inner.start, child.follows_bare_word)
        plan.cut(word.start, word.end, _bare_word_before(inner, word.start, data))
        plan.cut(inner.end, child.end, after_bare_word=False)
        _plan_children(inner, data, pictures, links, comments, plan, picture_step)


def _plan_picture(group: Group, data: bytes, plan: Plan, picture_step: PictureStep) -> Verdict:
    """Keep the picture with its data rebuilt (its hex runs replaced by the new data's),
    or drop it when its data is no image the step accepts."""
    blip = next(word for word in group.words if word in KEPT_BLIPS)  # judged: exactly one
    payload = hex_payload(group, data)
    try:
        rebuilt, findings = picture_step(payload.untrusted_data, blip)
    except SanitizeError as refusal:
        return Verdict("drop", "rtf.picture", f"{blip} ({refusal.code})")
    for finding in findings:
        plan.note(finding.construct, finding.action, blip, finding.count)
    if rebuilt != payload.untrusted_data:
        (start, end), *others = payload.runs
        plan.edits.append(Edit(start, end, hex_lines(rebuilt)))
        plan.edits += (Edit(start, end) for start, end in others)
    return KEEP


def _cut_annotation_marks(group: Group, data: bytes, plan: Plan) -> None:
    r"""Every ``\chatn`` written directly in ``group``: with its comment gone, it would
    anchor nothing."""
    for token in direct_tokens(group, data):
        if token.kind is Kind.WORD and token.name == ANNOTATION_MARK:
            plan.cut(token.start, token.end, _bare_word_before(group, token.start, data))
            plan.note("rtf.comment", "removed", ANNOTATION_MARK)


def _bare_word_before(group: Group, offset: int, data: bytes) -> bool:
    """Whether the token before ``offset``, in ``group``'s own content, is a bare word."""
    start = max([group.start + 1, *(child.end for child in group.children if child.end <= offset)])
    last = deque(tokenize(data, start, offset), maxlen=1)
    return bool(last) and last[0].bare


def apply_edits(data: bytes, edits: list[Edit]) -> bytes:
    r"""``data`` with ``edits`` (disjoint) applied.

    Cuts that touch make one cut, whose delimiter is the first one's: only the token
    before the whole cut can need a delimiter (a hoisted ``\fldrslt`` cut together with
    the picture right after it must not leave a space for the word that went).  A
    replacement with content (a picture's new data) is always written.
    """
    pieces: list[bytes] = []
    cursor = 0
    for edit in sorted(edits):
        touching = bool(pieces) and edit.start == cursor
        second_delimiter = touching and not edit.replacement.strip()
        pieces += (data[cursor : edit.start], b"" if second_delimiter else edit.replacement)
        cursor = edit.end
    pieces.append(data[cursor:])
    return b"".join(pieces)
