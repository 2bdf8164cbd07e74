"""Excel specifics: formulas that reach outside the workbook, and the workbook's sheet list.

A formula naming an external workbook (``[1]Sheet!A1``), a DDE server (``cmd|'/c calc'!A0``)
or a function that calls out (RTD, WEBSERVICE, CALL, REGISTER, EXEC) loses its formula
and keeps its cached value, so the cell shows what it showed.  When macro sheets leave
the workbook, the remaining sheets move up: names scoped to a sheet by position and the
active tab follow them, and names pointing at a removed sheet (Auto_Open!) go.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from sanitizers.errors import PolicyError
from sanitizers.ooxml.context import PartContext
from sanitizers.ooxml.vocabulary import NS_R, NS_X

_F = f"{{{NS_X}}}f"
_SHEETS = f"{{{NS_X}}}sheets"
_DEFINED_NAMES = f"{{{NS_X}}}definedNames"
_WORKBOOK_VIEW = f"{{{NS_X}}}workbookView"
_RID = f"{{{NS_R}}}id"
#: Formula elements outside cells whose enclosing rule goes with them.
_RULE_FORMULAS = frozenset({f"{{{NS_X}}}formula", f"{{{NS_X}}}formula1", f"{{{NS_X}}}formula2"})
_REACHES_OUTSIDE = re.compile(
    r"(?<![\w\]])\[\d+\]"  # external workbook index
    r"|\|"  # DDE: server|topic!item
    r"|\b(?:_xlfn\.)?(?:RTD|WEBSERVICE|CALL|REGISTER(?:\.ID)?|EXEC)\s*\(",
    re.IGNORECASE,
)
_STRING_LITERAL = re.compile(r'"(?:[^"]|"")*"')
_AUTO_RUN_NAME = re.compile(r"(?:_xlnm\.)?auto_(?:open|close|activate|deactivate)", re.IGNORECASE)


def reaches_outside(untrusted_formula: str) -> bool:
    """True when the formula (string literals aside) refers to anything outside the workbook."""
    return _REACHES_OUTSIDE.search(_STRING_LITERAL.sub('""', untrusted_formula)) is not None


def clean_formulas(root: ET.Element, context: PartContext) -> None:
    doomed = [f for f in root.iter(_F) if f.text and reaches_outside(f.text)]
    shared = {f.get("si") for f in doomed if f.get("t") == "shared"}
    if shared:
        # cells sharing a removed formula would inherit it: they lose theirs too
        known = set(doomed)
        doomed += [
            f for f in root.iter(_F) if f.get("t") == "shared" and f.get("si") in shared and f not in known
        ]
    rules = [element for tag in _RULE_FORMULAS for element in root.iter(tag)]
    doomed += [element for element in rules if element.text and reaches_outside(element.text)]
    if not doomed:
        return
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in doomed:
        parent = parents[element]
        if element.tag == _F:
            parent.remove(element)
            context.tally.add("ooxml.external_formula", f"{context.name} {parent.get('r', '')}".strip())
        else:  # a conditional format or validation rule means nothing without its formula
            container = parents.get(parent)
            if container is not None and any(child is parent for child in container):
                container.remove(parent)
                context.tally.add("ooxml.external_formula", context.name)


def clean_workbook(root: ET.Element, context: PartContext) -> None:
    """Drop sheets whose part is gone, then renumber what refers to sheets by position."""
    sheets = root.find(_SHEETS)
    if sheets is None:
        return
    removed_positions: list[int] = []
    removed_names: list[str] = []
    for position, sheet in enumerate(list(sheets)):
        if sheet.get(_RID) not in context.kept_ids:
            removed_positions.append(position)
            removed_names.append(sheet.get("name", ""))
            sheets.remove(sheet)
    if not len(sheets):
        raise PolicyError("ooxml.nothing_left", "no worksheet remains once macro sheets are removed")
    if removed_positions:
        context.tally.add("ooxml.sheet_entry", context.name, count=len(removed_positions))
    _clean_defined_names(root, removed_positions, removed_names, context)
    for view in root.iter(_WORKBOOK_VIEW):
        for attribute in ("activeTab", "firstSheet"):
            moved = _moved(view.get(attribute), removed_positions)
            if moved is not None:
                view.set(attribute, str(max(moved, 0)))


def _moved(value: str | None, removed: list[int]) -> int | None:
    """A sheet position once the removed ones are gone; -1 when it was removed itself."""
    if value is None or not value.isdigit():
        return None
    position = int(value)
    if position in removed:
        return -1
    return position - sum(1 for r in removed if r < position)


def _sheet_reference(name: str) -> re.Pattern[str]:
    """``Name!`` or ``'Name'!`` (quotes doubled inside), as formulas write a sheet."""
    quoted = re.escape(name.replace("'", "''"))
    return re.compile(rf"(?<![\w.]){re.escape(name)}!|'{quoted}'!", re.IGNORECASE)


def _clean_defined_names(
    root: ET.Element, removed_positions: list[int], removed_names: list[str], context: PartContext
) -> None:
    names = root.find(_DEFINED_NAMES)
    if names is None:
        return
    on_removed_sheet = [_sheet_reference(name) for name in removed_names if name]
    for defined in list(names):
        formula = defined.text or ""
        scope = _moved(defined.get("localSheetId"), removed_positions)
        if _AUTO_RUN_NAME.match(defined.get("name", "")):
            construct = "ooxml.macro_binding"
        elif reaches_outside(formula):
            construct = "ooxml.external_formula"
        elif scope == -1 or any(pattern.search(formula) for pattern in on_removed_sheet):
            construct = "ooxml.sheet_entry"
        else:
            if scope is not None:
                defined.set("localSheetId", str(scope))
            continue
        names.remove(defined)
        context.tally.add(construct, f"{context.name} {defined.get('name', '')}".strip())
    if not len(names):
        root.remove(names)
