"""Document settings (``settings.xml``, or a flat document's ``office:settings``), reduced.

LibreOffice writes two sets.  The view settings (window, zoom, cursor, the sheet shown) go.
Of the configuration settings only numbers and flags stay, since they decide how the text
is laid out (compatibility options), and the one string of that kind; everything else goes:
the printer's name and its driver's settings (a blob), the database the document was bound
to, the paths of colour and pattern tables, the change-tracking password's hash, and the
flags that change what happens when the document opens (updating links, updating styles
from the template, opening read-only).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from sanitizers.odf.context import PartContext
from sanitizers.odf.vocabulary import NS_CONFIG, NS_OFFICE, q

SETTINGS_ELEMENT = q(NS_OFFICE, "settings")
_ITEM_SET = q(NS_CONFIG, "config-item-set")
_ITEM = q(NS_CONFIG, "config-item")
_NAME = q(NS_CONFIG, "name")
_TYPE = q(NS_CONFIG, "type")
_CONFIGURATION = "ooo:configuration-settings"
_VALUES = {
    "boolean": re.compile(r"true|false"),
    "short": re.compile(r"-?[0-9]{1,6}"),
    "int": re.compile(r"-?[0-9]{1,11}"),
    "long": re.compile(r"-?[0-9]{1,20}"),
    "double": re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?"),
}
_KEPT_STRINGS = {"PrinterIndependentLayout": re.compile(r"high-resolution|low-resolution|disabled")}
_ON_OPENING = frozenset({"LinkUpdateMode", "UpdateFromTemplate", "LoadReadonly"})
_NAMED = {
    "PrinterName": "odf.printer_settings",
    "PrinterSetup": "odf.printer_settings",
    "CurrentDatabaseDataSource": "odf.database_connection",
    "CurrentDatabaseCommand": "odf.database_connection",
}


def reduce_settings(settings: ET.Element, context: PartContext) -> None:
    """Reduce one ``office:settings`` element in place."""
    dropped = 0
    for item_set in list(settings):
        if item_set.tag != _ITEM_SET or item_set.get(_NAME) != _CONFIGURATION:
            settings.remove(item_set)
            dropped += 1
            continue
        for item in list(item_set):
            name = item.get(_NAME, "")
            if _kept(item, name):
                continue
            item_set.remove(item)
            # LibreOffice writes these empty in every document: only a value is worth naming
            construct = _NAMED.get(name) if (item.text or "").strip() else None
            if construct is not None:
                context.tally.add(construct, f"{context.name} ({name})")
            else:
                dropped += 1
    if dropped:
        context.tally.add("odf.settings", context.name, "dropped", dropped)


def _kept(item: ET.Element, name: str) -> bool:
    if item.tag != _ITEM or len(item) or name in _ON_OPENING:
        return False
    value = _VALUES.get(item.get(_TYPE, "")) or _KEPT_STRINGS.get(name)
    return value is not None and value.fullmatch(item.text or "") is not None
