"""Word field codes that reach outside the document: the code goes, the shown result stays.

A field is either ``w:fldSimple`` (instruction in ``w:instr``, result as children) or a
complex field spread over runs: ``w:fldChar begin``, instruction text in ``w:instrText``
(possibly split over many runs and interleaved with nested fields), ``w:fldChar
separate``, the result, ``w:fldChar end``.  The instruction is judged once all its pieces
are joined, so ``DD`` + ``EAUTO`` in two runs is still DDEAUTO; a nested field stands in
it as ``sanitizers.fields.NESTED``, and ``sanitizers.fields`` (the one instruction parser,
shared with .doc and RTF) decides: fetching, running and DDE fields go, a HYPERLINK goes
unless ``keep_link`` keeps each of its targets, and so does a field whose type or link
target a nested field computes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from sanitizers.fields import NESTED, Danger, judge_instruction
from sanitizers.links import KEEP_WEB, REMOVE
from sanitizers.ooxml.context import PartContext
from sanitizers.ooxml.vocabulary import NS_W

_RUN = f"{{{NS_W}}}r"
_FIELD_CHARACTER = f"{{{NS_W}}}fldChar"
_FIELD_CHARACTER_TYPE = f"{{{NS_W}}}fldCharType"
_INSTRUCTIONS = frozenset({f"{{{NS_W}}}instrText", f"{{{NS_W}}}delInstrText"})
_SIMPLE_FIELD = f"{{{NS_W}}}fldSimple"
_SIMPLE_INSTRUCTION = f"{{{NS_W}}}instr"
CONSTRUCTS = {
    Danger.DDE: "ooxml.dde_field",
    Danger.FETCH: "ooxml.external_field",
    Danger.RUN: "ooxml.active_field",
    Danger.LINK: "ooxml.hyperlink",
    Danger.COMPUTED: "ooxml.computed_field",
}


def field_construct(instruction: str, keep_web_links: bool) -> str | None:
    """The construct a field instruction is removed as, or None when it may stay."""
    found = judge_instruction(instruction, KEEP_WEB if keep_web_links else REMOVE)
    return None if found is None else CONSTRUCTS[found]


def clean_fields(root: ET.Element, context: PartContext) -> None:
    if next(root.iter(_SIMPLE_FIELD), None) is not None:
        _clean_simple_fields(root, context)
    if next(root.iter(_FIELD_CHARACTER), None) is not None or any(
        next(root.iter(tag), None) is not None for tag in _INSTRUCTIONS
    ):
        _ComplexFields(root, context).clean()


def _clean_simple_fields(root: ET.Element, context: PartContext) -> None:
    parents = {child: parent for parent in root.iter() for child in parent if child.tag == _SIMPLE_FIELD}
    # innermost first, so that unwrapping an outer field carries already-cleaned content
    for simple in reversed(list(root.iter(_SIMPLE_FIELD))):
        construct = field_construct(simple.get(_SIMPLE_INSTRUCTION, ""), context.policy.keep_web_links)
        if construct is None:
            continue
        context.tally.add(construct, context.name)
        parent = parents[simple]
        index = next(i for i, child in enumerate(parent) if child is simple)
        result = list(simple)
        if simple.tail:
            if result:
                result[-1].tail = (result[-1].tail or "") + simple.tail
            elif index:
                parent[index - 1].tail = (parent[index - 1].tail or "") + simple.tail
            else:
                parent.text = (parent.text or "") + simple.tail
        parent[index : index + 1] = result


@dataclass
class _Field:
    instruction: str = ""
    separated: bool = False
    #: (run, element) pairs holding the field's code: everything but its result
    code: list[tuple[ET.Element, ET.Element]] = field(default_factory=list)


class _ComplexFields:
    def __init__(self, root: ET.Element, context: PartContext) -> None:
        self.root = root
        self.context = context
        self.removed: set[int] = set()

    def clean(self) -> None:
        runs = {child: run for run in self.root.iter(_RUN) for child in run}
        # fixed before anything is removed, so removals cannot disturb the document order
        pieces = [(runs[element], element) for element in self.root.iter() if element in runs]
        open_fields: list[_Field] = []
        for piece in pieces:
            element = piece[1]
            kind = element.get(_FIELD_CHARACTER_TYPE) if element.tag == _FIELD_CHARACTER else None
            if kind == "begin":
                if open_fields and not open_fields[-1].separated:
                    open_fields[-1].instruction += NESTED
                open_fields.append(_Field())
            elif kind == "end" and open_fields:
                closing = open_fields.pop()
                closing.code.append(piece)
                self._judge(closing)
            elif element.tag in _INSTRUCTIONS:
                if open_fields and not open_fields[-1].separated:
                    open_fields[-1].instruction += element.text or ""
                else:
                    self._judge(_Field(element.text or "", code=[piece]))  # outside any field
            # a piece inside an instruction (nested fields included) is code of that field
            for current in open_fields:
                if not current.separated:
                    current.code.append(piece)
            if kind == "separate" and open_fields:
                open_fields[-1].separated = True
        for unclosed in reversed(open_fields):
            self._judge(unclosed)

    def _judge(self, current: _Field) -> None:
        construct = field_construct(current.instruction, self.context.policy.keep_web_links)
        if construct is None:
            return
        self.context.tally.add(construct, self.context.name)
        for run, element in current.code:
            if id(element) not in self.removed:
                self.removed.add(id(element))
                run.remove(element)
