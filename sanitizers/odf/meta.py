"""Document properties (``meta.xml``, or a flat document's ``office:meta``).

Whatever the ``metadata`` option says, two properties go: ``meta:template``, the path or
URL of the template the document was made from (LibreOffice offers to update the document
from it), and ``meta:auto-reload``, which reloads the document, or loads another URL,
after a delay.  With ``metadata = "remove"`` the only properties left are the statistics
(counts of pages, words and pictures) and the generator, which LibreOffice reads to lay
out documents of its older versions as they were laid out then.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sanitizers.odf.context import PartContext
from sanitizers.odf.vocabulary import NS_META, NS_OFFICE, q

META_ELEMENT = q(NS_OFFICE, "meta")
_ALWAYS_REMOVED = {q(NS_META, "template"): "odf.template", q(NS_META, "auto-reload"): "odf.auto_reload"}
_KEPT_WITHOUT_METADATA = frozenset({q(NS_META, "document-statistic"), q(NS_META, "generator")})


def clean_meta(meta: ET.Element, context: PartContext) -> None:
    """Clean one ``office:meta`` element in place."""
    for child in list(meta):
        construct = _ALWAYS_REMOVED.get(child.tag)
        if (
            construct is None
            and not context.choices.keep_metadata
            and child.tag not in _KEPT_WITHOUT_METADATA
        ):
            construct = "odf.document_properties"
        if construct is not None:
            meta.remove(child)
            context.tally.add(construct, context.name)
