"""Whether a spreadsheet formula of an OpenDocument reaches outside the document.

The rule is the workbook one (``sanitizers.ooxml.formulas``: functions that fetch or call
out, HYPERLINK to a target the ``links`` option refuses, names with path characters),
which also reads formulas written in Excel's syntax (``msoxl:``), plus what OpenFormula
spells its own way: a reference to another document, ``['file:///C:/b.ods'#$Sheet1.A1]``
or ``['b.ods'#$Sheet1.A1]`` (a quoted source followed by ``#``), and ``DDE(...)``, which
starts a conversation with another program.  HYPERLINK's arguments are separated by ``;``
in OpenFormula, which the workbook rule does not read as a literal target: such a formula
counts as reaching out, and its cell keeps the value it shows.
"""

from __future__ import annotations

import re

from sanitizers.ooxml.formulas import reaches_outside as workbook_formula_reaches_outside

_OTHER_DOCUMENT = re.compile(r"'\s*#")
_DDE = re.compile(r"\bDDE\s*\(", re.IGNORECASE)


def reaches_outside(untrusted_formula: str, links: str) -> bool:
    """True when the formula (with its ``of:`` or other namespace prefix) refers to anything
    outside the document, or cannot be read."""
    return (
        bool(_OTHER_DOCUMENT.search(untrusted_formula))
        or bool(_DDE.search(untrusted_formula))
        or workbook_formula_reaches_outside(untrusted_formula, links)
    )
