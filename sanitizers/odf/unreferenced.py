"""Members of a package the rebuild did not write, reported by what they are.

Nothing but the XML parts, the pictures they show and the thumbnail is ever written, so
this only names what went: LibreOffice's folders say what a member is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sanitizers.odf.vocabulary import MANIFEST, MIMETYPE
from sanitizers.ooxml.findings import Tally

#: (member name pattern, construct, action), the first match wins.
_LEFT_OUT: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"(Basic|Dialogs)/"), "odf.basic_macro", "removed"),
    (re.compile(r"Scripts/"), "odf.script", "removed"),
    (re.compile(r"(Object [^/]*|ObjectReplacements)/"), "odf.embedded_object", "removed"),
    (re.compile(r"Fonts/"), "odf.embedded_font", "removed"),
    (re.compile(r"Media/"), "odf.media", "removed"),
    (re.compile(r"Configurations2/"), "odf.ui_configuration", "removed"),
    (re.compile(r"Thumbnails/"), "odf.thumbnail", "removed"),
    (re.compile(r"META-INF/.*signatures.*\.xml", re.IGNORECASE), "odf.signature", "removed"),
    (re.compile(r"manifest\.rdf"), "odf.rdf_metadata", "removed"),
)


def report_left_out(names: Iterable[str], used: set[str], tally: Tally) -> None:
    for name in names:
        if name in used or name in (MIMETYPE, MANIFEST):
            continue
        construct, action = next(
            ((construct, action) for pattern, construct, action in _LEFT_OUT if pattern.match(name)),
            ("odf.unreferenced_part", "dropped"),
        )
        tally.add(construct, name, action)
