r"""Field instructions (``{\*\fldinst ...}``) read the way Word reads them.

The instruction's text is assembled like Word assembles it: text runs, ``\'hh`` and
``\uN`` count, across nested groups; ``\*`` groups do not; after ``\uN`` the next
``\ucN`` characters are the fallback for readers without Unicode and are skipped, so
``D\u68 XE`` reads "DDE" (``\uc`` is inherited from the enclosing groups).  A nested
field stands in the text as ``sanitizers.fields.NESTED``: the result it computes when
the document is opened cannot be read here.  The text then goes to
``sanitizers.fields``, the one instruction parser for .docx, .doc and RTF.
"""

from __future__ import annotations

from collections.abc import Iterator

from sanitizers.fields import NESTED, Danger, judge_instruction, parse_field
from sanitizers.links import KEEP_WEB
from sanitizers.rtf.tokens import Kind, Token, tokenize
from sanitizers.rtf.tree import Group

CONSTRUCTS = {
    Danger.DDE: "rtf.dde_field",
    Danger.FETCH: "rtf.external_field",
    Danger.RUN: "rtf.external_field",
    Danger.LINK: "rtf.hyperlink",
    Danger.COMPUTED: "rtf.external_field",
}
#: Words that stand for white space in an instruction.
_SPACE_WORDS = frozenset({"tab", "par", "line", "emspace", "enspace", "qmspace"})
_ESCAPED_SYMBOLS = frozenset("\\{}")


def refused_instruction(group: Group, data: bytes, links: str = KEEP_WEB) -> tuple[str, str] | None:
    """(construct, location) when the instruction in ``group`` may not stay, else None."""
    if any("fldinst" in child.words for child in group.children):
        return "rtf.external_field", "nested instruction"
    text = group_text(group, data)
    found = judge_instruction(text, links)
    if found is None:
        return None
    name = parse_field(text).type.replace(NESTED, "?") or "?"
    return CONSTRUCTS[found], name if found is not Danger.COMPUTED else f"{name} (computed)"


def group_text(group: Group, data: bytes) -> str:
    """The text of ``group`` as a reader assembles it, NESTED for each nested field."""
    return "".join(_pieces(group, data))


def _pieces(group: Group, data: bytes) -> Iterator[str]:
    """The group's text, one piece per token."""
    fallback_lengths = [group.fallback_length]  # \uc is scoped to its group
    to_skip = 0
    depth = 0
    ignored_from: int | None = None  # depth of the \* group or nested field being skipped
    for token in tokenize(data, group.start, group.end):
        if token.kind is Kind.OPEN or token.kind is Kind.CLOSE:
            if token.kind is Kind.OPEN:
                depth += 1
                fallback_lengths.append(fallback_lengths[-1])
            else:
                depth -= 1
                fallback_lengths.pop()
            if ignored_from is not None and depth < ignored_from:
                ignored_from = None
            to_skip = 0
        elif ignored_from is not None:
            continue
        elif token.kind is Kind.SYMBOL and token.name == "*" and depth > 1:
            ignored_from = depth
        elif token.kind is Kind.WORD and token.name == "field":
            ignored_from = depth
            yield NESTED
        elif token.kind is Kind.WORD and token.name == "uc":
            fallback_lengths[-1] = max(token.param or 0, 0)
        elif token.kind is Kind.TEXT:
            run = data[token.start : token.end].translate(None, b"\r\n").decode("latin-1")
            skipped = min(to_skip, len(run))
            to_skip -= skipped
            yield run[skipped:]
        elif to_skip:
            to_skip -= 1
        else:
            yield _character(token)
            if token.kind is Kind.WORD and token.name == "u" and token.param is not None:
                to_skip = fallback_lengths[-1]


def _character(token: Token) -> str:
    """What a control word or symbol adds to an instruction's text."""
    if token.kind is Kind.WORD:
        if token.name == "u" and token.param is not None:
            return chr(token.param % 0x10000)
        return " " if token.name in _SPACE_WORDS else ""
    if token.name == "'" and token.param is not None:
        return chr(token.param)
    if token.name in _ESCAPED_SYMBOLS:
        return token.name
    return " " if token.name == "~" else ""
