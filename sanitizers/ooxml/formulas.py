"""Whether an Excel formula reaches outside the workbook: one rule for cleaner and verifier.

A formula reaches out when it names another workbook (``[1]Sheet1!A1``,
``'C:\\x\\[b.xlsx]S'!A1``, ``\\\\server\\share\\[b.xlsx]S!A1``), a DDE server
(``cmd|'/c calc'!A0``), or calls a function that fetches, runs or writes something
(WEBSERVICE, IMAGE, RTD, CALL, REGISTER, EXEC and the XLM file and DDE functions).
HYPERLINK stays only when its target is a string literal the ``links`` option keeps, or
a place in this workbook (``#Sheet2!A1``); a computed target cannot be judged, so it goes.

Function names are matched in any case, with or without the prefixes Excel writes for
newer functions (``_xlfn.``, ``_xlfn._xlws.``).  String literals and quoted sheet names
are read by a scanner first, so a name inside a literal is text, not a call, and no
regular expression ever backtracks over untrusted quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sanitizers.links import keep_link

#: Functions that fetch from the network, call code, or read and write files and DDE.
CALLING_OUT = (
    "WEBSERVICE",
    "IMAGE",
    "RTD",
    "CALL",
    "REGISTER",
    "REGISTER.ID",
    "EXEC",
    "EXECUTE",
    "RUN",
    "INITIATE",
    "REQUEST",
    "POKE",
    "OPEN",
    "FOPEN",
    "FWRITE",
    "FWRITELN",
    "SEND.MAIL",
)
_CALL = re.compile(
    r"\b(?:" + "|".join(re.escape(name) for name in sorted(CALLING_OUT, key=len, reverse=True)) + r")\s*\(",
    re.IGNORECASE,
)
_REFERENCE = re.compile(
    r"(?<![\w\]])\[\d+\]"  # another workbook by index: [1]Sheet1!A1, [1]!Name
    r"|(?<![\w\]])\[[^\[\]]+\][^\s!(),;:+\-*/&=<>^%{}\[\]]*!"  # [book.xlsx]Sheet1!A1
    r"|\\"  # a path or share: \\server\share\[b.xlsx]S!A1
    r"|\|",  # DDE: server|topic!item
)
_QUOTE = re.compile("[\"']")
_HYPERLINK = re.compile(r"\bHYPERLINK\s*\(", re.IGNORECASE)
_LITERAL_ARGUMENT = re.compile(r'\s*"(\d+)"\s*[,)]')
#: Characters no sheet name may hold: in a quoted name they spell a path or a workbook.
_NOT_IN_SHEET_NAMES = frozenset("[]\\/")


@dataclass
class _Scanned:
    #: the formula with each string literal as ``"<index>"`` and each quoted name as ``''``
    masked: str = ""
    literals: list[str] = field(default_factory=list)
    quoted_names: list[str] = field(default_factory=list)
    unterminated: bool = False


def _scan(untrusted_formula: str) -> _Scanned:
    scanned = _Scanned()
    out: list[str] = []
    text, position, end = untrusted_formula, 0, len(untrusted_formula)
    while position < end:
        quote = text[position]
        if quote not in "\"'":
            found = _QUOTE.search(text, position)
            stop = found.start() if found is not None else end
            out.append(text[position:stop])
            position = stop
            continue
        pieces: list[str] = []
        cursor = position + 1
        while True:
            closing = text.find(quote, cursor)
            if closing < 0:
                scanned.unterminated = True
                pieces.append(text[cursor:])
                cursor = end
                break
            pieces.append(text[cursor:closing])
            if closing + 1 < end and text[closing + 1] == quote:  # doubled: one quote inside
                pieces.append(quote)
                cursor = closing + 2
                continue
            cursor = closing + 1
            break
        value = "".join(pieces)
        if quote == '"':
            out.append(f'"{len(scanned.literals)}"')
            scanned.literals.append(value)
        else:
            out.append("''")
            scanned.quoted_names.append(value)
        position = cursor
    scanned.masked = "".join(out)
    return scanned


def reaches_outside(untrusted_formula: str, links: str) -> bool:
    """True when the formula refers to anything outside the workbook, or cannot be read."""
    scanned = _scan(untrusted_formula)
    if scanned.unterminated:
        return True  # Excel would not accept it; nothing to judge, so nothing to keep
    if any(not _NOT_IN_SHEET_NAMES.isdisjoint(name) for name in scanned.quoted_names):
        return True
    masked = scanned.masked
    if _CALL.search(masked) or _REFERENCE.search(masked):
        return True
    for call in _HYPERLINK.finditer(masked):
        argument = _LITERAL_ARGUMENT.match(masked, call.end())
        if argument is None or not _kept_target(scanned.literals[int(argument.group(1))], links):
            return True
    return False


def _kept_target(untrusted_target: str, links: str) -> bool:
    """A web target the link rule keeps, or ``#Sheet2!A1``: a place in this very workbook."""
    if untrusted_target.startswith("#"):
        return keep_link(untrusted_target, links, fragments=True) and not reaches_outside(
            untrusted_target[1:], links
        )
    return keep_link(untrusted_target, links)
