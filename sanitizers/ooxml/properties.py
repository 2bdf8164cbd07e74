"""Document properties (``docProps/core.xml``, ``docProps/app.xml``).

Whatever the ``metadata`` option, app.xml loses the hyperlink base (it turns every
relative link into one to a server of the sender's choosing), its copy of the hyperlink
list and the signature blob.  With ``metadata = "remove"`` core.xml keeps no property at
all, like the PDF rebuild's document information, and app.xml loses company and manager.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sanitizers.ooxml.context import PartContext
from sanitizers.ooxml.vocabulary import (
    APP_PROPERTIES_CONTENT_TYPE,
    CORE_PROPERTIES_CONTENT_TYPE,
    NS_APP,
)

_APP_ALWAYS_REMOVED = {
    f"{{{NS_APP}}}HyperlinkBase": "ooxml.hyperlink_base",
    f"{{{NS_APP}}}HLinks": "ooxml.hyperlink",
    f"{{{NS_APP}}}DigSig": "ooxml.signature",
}
_APP_PERSONAL = frozenset({f"{{{NS_APP}}}Company", f"{{{NS_APP}}}Manager"})


def clean_properties(root: ET.Element, context: PartContext) -> None:
    content_type = context.content_type.lower()
    keep_metadata = context.policy.keep_metadata
    if content_type == CORE_PROPERTIES_CONTENT_TYPE and not keep_metadata:
        if len(root):
            context.tally.add("ooxml.document_properties", context.name, count=len(root))
            root[:] = []
            root.text = None
    elif content_type == APP_PROPERTIES_CONTENT_TYPE:
        for child in list(root):
            construct = _APP_ALWAYS_REMOVED.get(child.tag)
            if construct is None and child.tag in _APP_PERSONAL and not keep_metadata:
                construct = "ooxml.document_properties"
            if construct is not None:
                root.remove(child)
                context.tally.add(construct, context.name)
