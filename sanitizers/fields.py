r"""Word field instructions read the way Word reads them, for .docx, .doc and RTF alike.

An instruction is a field type keyword (case does not matter, spaces may come first),
then arguments and switches.  Word's tokenisation, which this follows:

* white space (any Unicode space, the ideographic one included) separates tokens;
* ``"..."`` is one argument; inside it ``\"`` is a quote and ``\\`` one backslash;
* outside quotes ``\\`` is one backslash too, so ``\\\\server\\share`` is a UNC path and
  an argument, never a switch;
* a switch is a backslash and one character (``\o``, ``\t``, ``\*``, ``\#``); some take
  the next token as their argument (``\o "tip"``, ``\t "_blank"``, ``\l "bookmark"``,
  ``\* MERGEFORMAT``), the others none (``\m``, ``\n``, ``\h``, ``\d``).  A switch not
  known to take an argument takes none, so the token after it is judged as an argument:
  when unsure, the reading that checks more wins.

A nested field (the result of an inner field, spliced into the outer instruction when it
is updated) reaches this module as ``NESTED`` in the text.  Nobody can know what it
computes, so a nested field in the type keyword or in a link position makes the field
unsafe, and it is removed.

Which fields may stay: those that fetch or run something (``FETCHING``, ``RUNNING``,
DDE) never; HYPERLINK only when every target passes ``sanitizers.links.keep_link`` (its
display text stays either way); every other field stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sanitizers.links import keep_link

#: Stands for a nested field inside an instruction's text.
NESTED = "\x13"
DDE_FIELDS = frozenset({"DDE", "DDEAUTO"})
#: Fields that load a file, a URL or a data source when the document opens or updates:
#: INCLUDE is Word 6's INCLUDETEXT, IMPORT its INCLUDEPICTURE, RD names another document
#: to index, DATABASE holds a connection string and a query, EMBED an OLE object.
FETCHING = frozenset(
    {"INCLUDE", "INCLUDETEXT", "INCLUDEPICTURE", "IMPORT", "LINK", "DATABASE", "RD", "EMBED"}
)
#: Fields that run something: MACROBUTTON runs a macro or a Word command (FileOpen ...)
#: on a double click, CONTROL and HTMLCONTROL are ActiveX controls, PRINT sends its
#: argument (PostScript, printer escapes) to the printer.
RUNNING = frozenset({"MACROBUTTON", "CONTROL", "HTMLCONTROL", "PRINT"})
HYPERLINK = "HYPERLINK"
#: Switches that take the next token as their argument; the rest take none.
_SWITCHES_WITH_ARGUMENT: dict[str, frozenset[str]] = {
    "": frozenset("*#@"),  # general formatting switches, valid on every field
    HYPERLINK: frozenset("lot"),  # location (bookmark), tooltip, target frame
    "INCLUDEPICTURE": frozenset("c"),  # graphic filter
    "INCLUDETEXT": frozenset("ct"),  # converter, XSL transform
    "LINK": frozenset("bfprt"),  # \f and \p: formats; \b \r \t without, but never mind
}
#: Skipped before a type keyword.
_KEYWORD_NOISE = '"\\'


class Danger(StrEnum):
    """Why a field may not stay."""

    DDE = "dde"  # runs a program
    FETCH = "fetch"  # loads a file or URL
    RUN = "run"  # runs a macro, a command or a control
    LINK = "link"  # a hyperlink whose target the links option refuses
    COMPUTED = "computed"  # a nested field computes its type or a link target


@dataclass(frozen=True)
class Switch:
    name: str  # the character after the backslash, as written
    argument: str | None


@dataclass(frozen=True)
class Field:
    """A parsed instruction."""

    type: str  # upper case; "" when the instruction has none
    arguments: tuple[str, ...]  # not belonging to a switch, in order, unquoted and unescaped
    switches: tuple[Switch, ...]
    #: the type keyword holds a nested field, or a token is unreadable as Word would read it
    computed_type: bool = False

    @property
    def targets(self) -> tuple[str, ...]:
        """What the field reaches out to: its arguments, for a hyperlink or a fetching field.

        For HYPERLINK these are the link targets (``\\l`` alone is a jump inside the
        document and no target).
        """
        if self.type == HYPERLINK or self.type in FETCHING or self.type in DDE_FIELDS:
            return self.arguments
        return ()


def parse_field(instruction: str) -> Field:
    """The type, arguments and switches of ``instruction`` (NESTED marks nested fields).

    The type keyword is the first run of letters, after any spaces, quotes or
    backslashes (skipped, so that ``"DDEAUTO"`` or ``\\DDE`` is still judged for what a
    lenient reader might take it to be); whatever follows it without a space
    (``HYPERLINK"x"``) is the first argument.
    """
    position, length = 0, len(instruction)
    while position < length and (instruction[position].isspace() or instruction[position] in _KEYWORD_NOISE):
        position += 1
    start = position
    while position < length and (instruction[position].isalpha() or instruction[position] == NESTED):
        position += 1
    keyword = instruction[start:position]
    field_type = keyword.upper()
    with_argument = _SWITCHES_WITH_ARGUMENT[""] | _SWITCHES_WITH_ARGUMENT.get(field_type, frozenset())
    tokens = _tokens(instruction[position:])
    arguments: list[str] = []
    switches: list[Switch] = []
    index = 0
    while index < len(tokens):
        text, quoted = tokens[index]
        index += 1
        if not quoted and len(text) == 2 and text[0] == "\\":
            argument = None
            if text[1].lower() in with_argument and index < len(tokens):
                argument = tokens[index][0]
                index += 1
            switches.append(Switch(text[1], argument))
        else:
            arguments.append(text)
    return Field(field_type, tuple(arguments), tuple(switches), NESTED in keyword)


def danger(field: Field, links: str) -> Danger | None:
    """Why ``field`` may not stay under the ``links`` option, or None when it may."""
    if field.computed_type:
        return Danger.COMPUTED
    if field.type in DDE_FIELDS:
        return Danger.DDE
    if field.type in FETCHING:
        return Danger.FETCH
    if field.type in RUNNING:
        return Danger.RUN
    if field.type == HYPERLINK:
        if any(NESTED in target for target in field.targets):
            return Danger.COMPUTED
        if not all(keep_link(target, links) for target in field.targets):
            return Danger.LINK
    return None


def judge_instruction(instruction: str, links: str) -> Danger | None:
    """``danger`` of the parsed ``instruction``."""
    return danger(parse_field(instruction), links)


def _tokens(instruction: str) -> list[tuple[str, bool]]:
    r"""(text, quoted) for each token, escapes resolved.

    An unquoted token that runs into a quote (``http://a"b c"``) is read on as one
    token through the quoted part, and the whole is marked unreadable by giving it a
    NESTED: readers disagree on such tokens, so none of them may be a link target.
    """
    tokens: list[tuple[str, bool]] = []
    position, length = 0, len(instruction)
    while position < length:
        character = instruction[position]
        if character.isspace():
            position += 1
            continue
        quoted = character == '"'
        text: list[str] = []
        if quoted:
            position += 1
        in_quotes = quoted
        while position < length:
            character = instruction[position]
            if character == "\\" and position + 1 < length and instruction[position + 1] in '\\"':
                text.append(instruction[position + 1])
                position += 2
                continue
            if character == '"':
                position += 1
                if in_quotes and quoted:
                    break
                in_quotes = not in_quotes
                text.append(NESTED)  # a quote inside an unquoted token: unreadable
                continue
            if character.isspace() and not in_quotes:
                break
            text.append(character)
            position += 1
        tokens.append(("".join(text), quoted))
    return tokens
