r"""RTF tokens, read from bytes by a loop over positions.

RTF has five kinds of token: ``{``, ``}``, control words (``\name``, an optional signed
parameter and one optional space that belongs to the word), control symbols (``\x``;
``\'hh`` carries two hex digits) and text runs.  ``\binN`` is a control word followed by
N raw bytes that may contain anything, braces included, so the tokeniser must know it to
find the next token at all: its token covers the payload.

Anything a reader could take two ways is refused rather than guessed: a name longer than
32 letters or a parameter longer than 10 digits (Word reads up to 250), ``\'`` without two
hex digits (Word swallows any two bytes, braces included), a negative ``\bin`` length or
one that runs past the end of the file, and a backslash at the very end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import Enum
from typing import NamedTuple

from sanitizers.errors import MalformedError

MAX_NAME_LETTERS = 32
MAX_PARAMETER_DIGITS = 10

_WORD = re.compile(rb"\\([A-Za-z]{1,%d})(-?[0-9]{1,%d})?( ?)" % (MAX_NAME_LETTERS, MAX_PARAMETER_DIGITS))
_TEXT_RUN = re.compile(rb"[^{}\\]+")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset(b"0123456789")


class Kind(Enum):
    OPEN = "{"
    CLOSE = "}"
    WORD = "word"
    SYMBOL = "symbol"
    TEXT = "text"


class Token(NamedTuple):
    r"""``data[start:end]`` is the token's exact bytes (a word's delimiter and a \bin payload included)."""

    kind: Kind
    start: int
    end: int
    name: str = ""  # a word's name, or a symbol's character ("'" for \'hh)
    param: int | None = None
    #: a word that ends without a space: a letter, digit or space written right after it
    #: would be read as part of it, so whoever removes what follows must add a space
    bare: bool = False


def tokenize(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Token]:
    """Tokens of ``data[start:end]``; ``start`` must be a token boundary."""
    stop = len(data) if end is None else end
    pos = start
    text_run = _TEXT_RUN.match
    while pos < stop:
        byte = data[pos]
        if byte == 0x7B:  # {
            yield Token(Kind.OPEN, pos, pos + 1)
            pos += 1
        elif byte == 0x7D:  # }
            yield Token(Kind.CLOSE, pos, pos + 1)
            pos += 1
        elif byte == 0x5C:  # backslash
            token = _control(data, pos, stop)
            yield token
            pos = token.end
        else:
            run = text_run(data, pos, stop)
            assert run is not None  # the byte at pos is none of { } \
            yield Token(Kind.TEXT, pos, run.end())
            pos = run.end()


def _control(data: bytes, pos: int, stop: int) -> Token:
    word = _WORD.match(data, pos, stop)
    if word is None:
        return _symbol(data, pos, stop)
    name_bytes, digits, space = word.groups()
    end = word.end()
    if not space and end < stop:
        following = data[end]
        if following in _DIGITS:
            raise MalformedError(
                "rtf.malformed", f"a parameter longer than {MAX_PARAMETER_DIGITS} digits at {pos}"
            )
        if following in _LETTERS and digits is None:
            raise MalformedError(
                "rtf.malformed", f"a control word longer than {MAX_NAME_LETTERS} letters at {pos}"
            )
    name = name_bytes.decode("ascii")
    param = None if digits is None else int(digits)
    if name == "bin":
        return _binary(name, param, pos, end, stop)
    return Token(Kind.WORD, pos, end, name, param, not space)


def _symbol(data: bytes, pos: int, stop: int) -> Token:
    if pos + 1 >= stop:
        raise MalformedError("rtf.malformed", f"a backslash ends the file at offset {pos}")
    symbol = data[pos + 1]
    if symbol != 0x27:  # '
        return Token(Kind.SYMBOL, pos, pos + 2, chr(symbol))
    hex_digits = data[pos + 2 : min(pos + 4, stop)]
    if len(hex_digits) != 2 or not all(d in _HEX_DIGITS for d in hex_digits):
        raise MalformedError("rtf.malformed", f"\\' without two hex digits at offset {pos}")
    return Token(Kind.SYMBOL, pos, pos + 4, "'", int(hex_digits, 16))


def _binary(name: str, param: int | None, pos: int, payload_start: int, stop: int) -> Token:
    r"""``\binN``: the token runs to the end of its N raw bytes (none without a parameter)."""
    length = 0 if param is None else param
    if length < 0:
        raise MalformedError("rtf.malformed", f"\\bin with a negative length at offset {pos}")
    if payload_start + length > stop:
        raise MalformedError("rtf.malformed", f"\\bin{length} at offset {pos} runs past the end of the file")
    return Token(Kind.WORD, pos, payload_start + length, name, param, bare=False)
