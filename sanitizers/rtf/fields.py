r"""Field instructions (``{\*\fldinst ...}``) read the way Word reads them, up to the name.

Only the field's name decides whether it may stay (DDE fetches from another program,
INCLUDEPICTURE from a path or URL), so reading stops once the name is complete.  The name
is assembled like Word assembles it: text runs, ``\'hh`` and ``\uN`` count, across nested
groups; ``\*`` groups do not; after ``\uN`` the next ``\ucN`` characters are the fallback
for readers without Unicode and are skipped, so ``D\u68 XE`` reads "DDE" (``\uc`` is
inherited from the enclosing groups).  A nested field before the name is complete means
the name is computed when the document is opened, and cannot be read here.
"""

from __future__ import annotations

from collections.abc import Iterator

from sanitizers.rtf.tokens import Kind, Token, tokenize
from sanitizers.rtf.tree import Group

DDE_FIELDS = frozenset({"DDE", "DDEAUTO"})
#: Fields that fetch content from outside the document when it is opened or updated;
#: INCLUDE is Word 6's INCLUDETEXT, DATABASE carries a connection string and a query.
EXTERNAL_FIELDS = frozenset({"INCLUDE", "INCLUDETEXT", "INCLUDEPICTURE", "IMPORT", "LINK", "DATABASE"})
#: Word writes a handful of formatting words before a field's name; an instruction whose
#: name does not appear within this many tokens is not one a word processor wrote.
MAX_TOKENS_BEFORE_NAME = 256
#: Words that stand for white space in an instruction.
_SPACE_WORDS = frozenset({"tab", "par", "line", "emspace", "enspace", "qmspace"})
_ESCAPED_SYMBOLS = frozenset("\\{}")
_NAME_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_BEFORE_NAME = frozenset(' \t"\u00a0')


def refused_instruction(group: Group, data: bytes) -> tuple[str, str] | None:
    """(construct, location) when the instruction in ``group`` may not stay, else None."""
    if any("fldinst" in child.words for child in group.children):
        return "rtf.external_field", "nested instruction"
    name = instruction_name(group, data)
    if name is None:
        return "rtf.external_field", "instruction computed or unreadable"
    if name in DDE_FIELDS:
        return "rtf.dde_field", name
    if name in EXTERNAL_FIELDS:
        return "rtf.external_field", name
    return None


def instruction_name(group: Group, data: bytes) -> str | None:
    """The field's name in upper case ("" when the instruction does not start with one),
    or None when a nested field computes it or it does not come early enough."""
    name = ""
    for count, piece in enumerate(_instruction_pieces(group, data)):
        if piece is None or count >= MAX_TOKENS_BEFORE_NAME:
            return None
        for character in piece:
            if character in _NAME_LETTERS:
                name += character
            elif name:
                return name.upper()
            elif character not in _BEFORE_NAME:
                return ""
    return name.upper()


def _instruction_pieces(group: Group, data: bytes) -> Iterator[str | None]:
    """The instruction's text, one piece per token; None for a nested field."""
    fallback_lengths = [group.fallback_length]  # \uc is scoped to its group
    to_skip = 0
    depth = 0
    ignored_from: int | None = None  # depth of the \* group being skipped
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
            yield ""
        elif ignored_from is not None:
            yield ""
        elif token.kind is Kind.SYMBOL and token.name == "*" and depth > 1:
            ignored_from = depth
            yield ""
        elif token.kind is Kind.WORD and token.name == "field":
            yield None
        elif token.kind is Kind.WORD and token.name == "uc":
            fallback_lengths[-1] = max(token.param or 0, 0)
            yield ""
        elif token.kind is Kind.TEXT:
            run = data[token.start : token.end].translate(None, b"\r\n").decode("latin-1")
            skipped = min(to_skip, len(run))
            to_skip -= skipped
            yield run[skipped:]
        elif to_skip:
            to_skip -= 1
            yield ""
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
