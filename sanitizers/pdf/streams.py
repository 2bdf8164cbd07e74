"""Which streams readers parse as PDF syntax, and the forbidden names to look for in them.

Page and form content, CMaps and XMP are read as PDF tokens, so a name in them is a
name; the rebuild copies them verbatim, so it must refuse those that carry the names of
active constructs.  Image samples, font programs, colour profiles and the like are
binary payloads no reader interprets as PDF syntax: searching them would flag random
byte runs.  Object streams hold objects that qpdf parses and that are checked one by
one, where a name can be told apart as a structure role or a resource name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sanitizers.pdf.values import int_of, name_of
from sanitizers.pdf.vocabulary import FORBIDDEN_STREAM_NAMES

_DELIMITER = rb"\s/\[\]<>(){}%"


def _escapable(name: bytes) -> bytes:
    """A pattern for ``name`` in which any character may be written as #xx (either case)."""
    parts = []
    for char in name:
        hex_digits = b"".join(b"[%s%s]" % (bytes([d]), bytes([d]).upper()) for d in b"%02x" % char)
        parts.append(b"(?:%s|#%s)" % (re.escape(bytes([char])), hex_digits))
    return b"".join(parts)


#: What follows a name that content uses as a resource or tag name, chosen by the author:
#: "/AA 12 Tf", "/AA Do", "/AA gs", "/Span /AA BDC".  Such a name is no action.
_AS_RESOURCE_NAME = (
    rb"\s*(?:[-+]?(?:\d+\.?\d*|\.\d+)\s+)?(?:Tf|Do|gs|cs|CS|sh|scn|SCN|BDC|DP|BMC|MP)(?![^%s])" % (_DELIMITER)
)
#: A forbidden name as a whole token: /JavaScript, /J#61vaScript, but not /JavaScripts,
#: and not where the content names a resource or a tag with it.
FORBIDDEN_NAME_PATTERN = re.compile(
    rb"/(?:%s)(?![^%s])(?!%s)"
    % (b"|".join(_escapable(n) for n in sorted(FORBIDDEN_STREAM_NAMES)), _DELIMITER, _AS_RESOURCE_NAME)
)


def is_image(stream: Mapping[str, object]) -> bool:
    return name_of(stream.get("/Subtype")) == "/Image"


def is_syntax(stream: Mapping[str, object]) -> bool:
    """True for streams read as PDF tokens; False for images, binary payloads
    (fonts, colour profiles, sampled functions, shadings) and object or xref streams."""
    if is_image(stream) or name_of(stream.get("/Type")) in ("/XRef", "/ObjStm"):
        return False
    if any(key in stream for key in ("/Length1", "/Length2", "/Length3", "/ShadingType")):
        return False
    if name_of(stream.get("/Subtype")) in ("/Type1C", "/CIDFontType0C", "/OpenType"):
        return False
    if int_of(stream.get("/FunctionType")) == 0:
        return False
    return not ("/N" in stream and "/Subtype" not in stream and "/Type" not in stream)
