"""Excel specifics: formulas that reach outside the workbook, and the workbook's sheet list.

A formula naming an external workbook, a DDE server or a function that calls out (the
rule is ``formulas.reaches_outside``) loses its formula and keeps its cached value, so
the cell shows what Excel shows for a broken link.  The same goes for formulas outside
cells: a conditional format or validation rule goes with its formula, a table's column
formula goes, and a chart series built on another workbook keeps its cached points as
literal values.  When macro sheets leave the workbook, the remaining sheets move up:
names scoped to a sheet by position and the active tab follow them, and names pointing
at a removed sheet (Auto_Open!) or outside the workbook go.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from sanitizers.errors import PolicyError
from sanitizers.links import KEEP_WEB, REMOVE
from sanitizers.ooxml.context import PartContext
from sanitizers.ooxml.formulas import reaches_outside
from sanitizers.ooxml.vocabulary import NS_C, NS_R, NS_X
from sanitizers.ooxml.xmltree import split_tag

_NS_XM = "http://schemas.microsoft.com/office/excel/2006/main"
_NS_C15 = "http://schemas.microsoft.com/office/drawing/2012/chart"
_F = f"{{{NS_X}}}f"
_SHEETS = f"{{{NS_X}}}sheets"
_DEFINED_NAMES = f"{{{NS_X}}}definedNames"
_WORKBOOK_VIEW = f"{{{NS_X}}}workbookView"
_RID = f"{{{NS_R}}}id"
#: Formula elements outside cells whose enclosing rule goes with them (x14 rules write xm:f;
#: a chart extension's data label range, c15:f).
_RULE_FORMULAS = frozenset(
    {
        f"{{{NS_X}}}formula",
        f"{{{NS_X}}}formula1",
        f"{{{NS_X}}}formula2",
        f"{{{_NS_XM}}}f",
        f"{{{_NS_C15}}}f",
    }
)
#: Wrappers around a rule's formula: the rule is the element above them.
_FORMULA_WRAPPERS = frozenset({"formula", "formula1", "formula2"})
#: Formula elements that go alone: a table column's formula, written again in its cells.
_STANDALONE_FORMULAS = frozenset({f"{{{NS_X}}}calculatedColumnFormula", f"{{{NS_X}}}totalsRowFormula"})
_CHART_F = f"{{{NS_C}}}f"
_AUTO_RUN_NAME = re.compile(r"(?:_xlnm\.)?auto_(?:open|close|activate|deactivate)", re.IGNORECASE)


def links_option(context: PartContext) -> str:
    return KEEP_WEB if context.policy.keep_web_links else REMOVE


def clean_formulas(root: ET.Element, context: PartContext) -> None:
    links = links_option(context)

    def outside(element: ET.Element) -> bool:
        return bool(element.text) and reaches_outside(element.text or "", links)

    doomed = [f for f in root.iter(_F) if outside(f)]
    shared = {f.get("si") for f in doomed if f.get("t") == "shared"}
    if shared:
        # cells sharing a removed formula would inherit it: they lose theirs too
        known = set(doomed)
        doomed += [
            f for f in root.iter(_F) if f.get("t") == "shared" and f.get("si") in shared and f not in known
        ]
    doomed += [element for element in root.iter() if element.tag in _RULE_FORMULAS and outside(element)]
    doomed += [element for element in root.iter() if element.tag in _STANDALONE_FORMULAS and outside(element)]
    charted = [element for element in root.iter(_CHART_F) if outside(element)]
    if not doomed and not charted:
        return
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in doomed:
        parent = parents[element]
        if element.tag == _F or element.tag in _STANDALONE_FORMULAS:
            parent.remove(element)
            context.tally.add("ooxml.external_formula", f"{context.name} {parent.get('r', '')}".strip())
            continue
        # a conditional format or validation rule means nothing without its formula
        rule = parents.get(parent) if split_tag(parent.tag)[1] in _FORMULA_WRAPPERS else parent
        container = parents.get(rule) if rule is not None else None
        if rule is not None and container is not None and any(child is rule for child in container):
            container.remove(rule)
            _without_empty_container(container, rule.tag, parents)
            context.tally.add("ooxml.external_formula", context.name)
    for element in charted:
        _cached_values_only(parents[element], parents)
        context.tally.add("ooxml.external_formula", context.name)


def _without_empty_container(
    container: ET.Element, rule_tag: str, parents: dict[ET.Element, ET.Element]
) -> None:
    """A list of rules keeps its count; one left with no rule at all goes, since the schema
    wants one, and so does a list of such lists (``x14:conditionalFormattings``) left empty."""
    remaining = sum(1 for child in container if child.tag == rule_tag)
    if "count" in container.attrib:
        container.set("count", str(remaining))
    holder = parents.get(container)
    if remaining or holder is None or not any(child is container for child in holder):
        return
    holder.remove(container)
    above = parents.get(holder)
    if not len(holder) and split_tag(holder.tag)[1].endswith("s") and above is not None:
        above.remove(holder)


def _cached_values_only(reference: ET.Element, parents: dict[ET.Element, ET.Element]) -> None:
    """A chart's ``numRef``/``strRef`` turned into the literal values it had cached."""
    kind = split_tag(reference.tag)[1]
    cache = next((child for child in reference if split_tag(child.tag)[1].endswith("Cache")), None)
    points = list(cache) if cache is not None else []
    if kind == "multiLvlStrRef":  # the innermost level, as a plain list of labels
        level = next((child for child in points if split_tag(child.tag)[1] == "lvl"), None)
        counts = [child for child in points if split_tag(child.tag)[1] == "ptCount"]
        points = counts + (list(level) if level is not None else [])
    holder = parents.get(reference)
    if kind == "strRef" and holder is not None and split_tag(holder.tag)[1] == "tx":
        # a series name: the schema allows a plain value here, not a literal list
        first = next((child for child in points if split_tag(child.tag)[1] == "pt"), None)
        value = ET.Element(f"{{{NS_C}}}v")
        value.text = first.findtext(f"{{{NS_C}}}v", "") if first is not None else ""
        holder[list(holder).index(reference)] = value
        return
    reference.tag = f"{{{NS_C}}}numLit" if kind == "numRef" else f"{{{NS_C}}}strLit"
    reference.attrib.clear()
    if not any(split_tag(child.tag)[1] == "ptCount" for child in points):
        points.insert(0, ET.Element(f"{{{NS_C}}}ptCount", {"val": "0"}))
    reference[:] = points


def clean_table(root: ET.Element, context: PartContext) -> None:
    """A table filled by a query keeps its rows as a plain table: its query and connection
    are gone (``ooxml.data_connection``), and a table still naming them is a damaged one."""
    if root.get("tableType") != "queryTable" and "connectionId" not in root.attrib:
        return
    root.set("tableType", "worksheet")
    root.attrib.pop("connectionId", None)
    for column in root.iter(f"{{{NS_X}}}tableColumn"):
        column.attrib.pop("queryTableFieldId", None)
    context.tally.add("ooxml.data_connection", context.name, "neutralised")


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
        elif reaches_outside(formula, links_option(context)):
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
