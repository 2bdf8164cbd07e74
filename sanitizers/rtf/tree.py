r"""The group tree of an RTF document, with what each group says about itself.

Only groups are kept in memory, not tokens: for each group, the control words written
directly in it (a reader switches destination on a destination word wherever it stands in
the group, not only after the brace), the names that follow its ``\*`` symbols, its
``\bin`` count and its child groups.  Whatever needs a group's content later (a field
instruction, a picture payload) tokenises that group's bytes again.

Bounds: nesting deeper than ``MAX_DEPTH`` is refused as malformed (no writer nests that
deep; a reader's stack may not cope); more groups than ``limits.max_objects`` or more
tokens than ``TOKENS_PER_OBJECT × limits.max_objects`` (5 million by default, a dense
60 MB of markup) is a limit (``rtf.limit``): memory stays in proportion to a document a
person wrote, and the two parses of a rebuild stay well inside the default timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sanitizers.base import Limits
from sanitizers.errors import LimitError, MalformedError
from sanitizers.rtf.tokens import Kind, Token, tokenize

MAX_DEPTH = 256
TOKENS_PER_OBJECT = 10
#: Line breaks are not content in RTF (readers skip them), so a ``\*`` may be followed
#: by one before its destination word.
_LINE_BREAKS = b"\r\n"
#: Bytes after the final closing brace that writers leave and that carry nothing.
TRAILING_WHITESPACE = frozenset(b" \t\r\n")


@dataclass(slots=True, eq=False)
class Group:
    start: int  # offset of "{"
    follows_bare_word: bool  # the token before "{" is a control word without delimiter
    fallback_length: int  # the \uc in effect where the group opens
    end: int = -1  # offset just after "}"
    #: each control word written directly in this group → offset of its first occurrence
    #: (offsets, not tokens: millions of small objects would be kept alive otherwise)
    words: dict[str, int] = field(default_factory=dict)
    #: the word after each direct \* ("" when none follows)
    star_names: list[str] = field(default_factory=list)
    bins: int = 0
    children: list[Group] = field(default_factory=list)
    #: a \* was read and the word it marks has not been seen yet
    awaiting_star_name: bool = False
    #: the \uc in effect at the current point of the group, while it is being read
    fallback_in_effect: int = 1

    def __post_init__(self) -> None:
        self.fallback_in_effect = self.fallback_length


@dataclass(frozen=True)
class Document:
    root: Group
    header: Token  # the control word right after the first "{" (\rtf1 when well formed)
    trailing_start: int  # offset after the document group's "}"
    bins: int  # \bin tokens anywhere in the document group

    def trailing(self, data: bytes) -> bytes:
        return data[self.trailing_start :]


def parse_document(data: bytes, limits: Limits) -> Document:
    """The group tree of ``data``; raises ``rtf.malformed`` or ``rtf.limit``."""
    if not data.startswith(b"{\\rt"):
        raise MalformedError("rtf.malformed", "the file does not start with {\\rt")
    max_tokens = TOKENS_PER_OBJECT * limits.max_objects
    tokens = tokenize(data)
    next(tokens)  # the "{" checked above
    header = next(tokens)  # a control word: "{\rt" starts one
    current = Group(0, follows_bare_word=False, fallback_length=1)
    stack = [current]
    groups = 1
    bins = 0
    previous = header
    # one pass over what may be millions of tokens: the common kinds are tested first
    for count, token in enumerate(tokens, start=3):
        if count > max_tokens:
            raise LimitError("rtf.limit", f"more than {max_tokens} tokens")
        kind = token.kind
        if kind is Kind.TEXT:
            if current.awaiting_star_name and data[token.start : token.end].strip(_LINE_BREAKS):
                _settle_star(current, None)
        elif kind is Kind.WORD:
            _note_word(current, token)
            bins += token.name == "bin"
        elif kind is Kind.OPEN:
            groups += 1
            if groups > limits.max_objects:
                raise LimitError("rtf.limit", f"more than {limits.max_objects} groups")
            if len(stack) >= MAX_DEPTH:
                raise MalformedError("rtf.malformed", f"groups nested deeper than {MAX_DEPTH}")
            _settle_star(current, None)
            child = Group(token.start, previous.bare, current.fallback_in_effect)
            current.children.append(child)
            stack.append(child)
            current = child
        elif kind is Kind.CLOSE:
            _settle_star(current, None)
            current.end = token.end
            stack.pop()
            if not stack:
                return Document(current, header, token.end, bins)
            current = stack[-1]
        else:
            _settle_star(current, None)
            current.awaiting_star_name = token.name == "*"
        previous = token
    raise MalformedError("rtf.malformed", f"the file ends inside {len(stack)} unclosed groups")


def _note_word(group: Group, token: Token) -> None:
    _settle_star(group, token.name)
    group.words.setdefault(token.name, token.start)
    if token.name == "uc":
        group.fallback_in_effect = max(token.param or 0, 0)
    elif token.name == "bin":
        group.bins += 1


def _settle_star(group: Group, name: str | None) -> None:
    r"""A pending \* is named by the word that follows it; anything else leaves it nameless."""
    if group.awaiting_star_name:
        group.star_names.append(name or "")
        group.awaiting_star_name = False


def direct_tokens(group: Group, data: bytes) -> Iterator[Token]:
    """The tokens written directly in ``group``, its braces and child groups left out:
    a deep stack of groups is never re-read once per level."""
    start = group.start + 1
    for child in group.children:
        yield from tokenize(data, start, child.start)
        start = child.end
    yield from tokenize(data, start, group.end - 1)
