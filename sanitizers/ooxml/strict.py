"""ISO/IEC 29500 Strict spelled as transitional, so that every check sees one vocabulary.

A Strict package names the same elements and relationships as a transitional one under
other URIs (``http://purl.oclc.org/ooxml/...``).  The cleaners know the transitional
names only, so a Strict part would pass them unseen: every Strict namespace and
relationship type is rewritten to its transitional twin as the part is parsed, before
the package is planned or cleaned.  The output is therefore transitional, which every
Office version opens; the verifier refuses any Strict name left in it.
"""

from __future__ import annotations

STRICT_PREFIX = "http://purl.oclc.org/ooxml/"
_OPENXML = "http://schemas.openxmlformats.org/"

#: ISO/IEC 29500-1 (Strict) namespace → ECMA-376 transitional namespace.
_NAMESPACES: dict[str, str] = {
    STRICT_PREFIX + strict: _OPENXML + transitional
    for strict, transitional in {
        "wordprocessingml/main": "wordprocessingml/2006/main",
        "spreadsheetml/main": "spreadsheetml/2006/main",
        "presentationml/main": "presentationml/2006/main",
        "drawingml/main": "drawingml/2006/main",
        "drawingml/chart": "drawingml/2006/chart",
        "drawingml/chartDrawing": "drawingml/2006/chartDrawing",
        "drawingml/diagram": "drawingml/2006/diagram",
        "drawingml/picture": "drawingml/2006/picture",
        "drawingml/lockedCanvas": "drawingml/2006/lockedCanvas",
        "drawingml/compatibility": "drawingml/2006/compatibility",
        "drawingml/wordprocessingDrawing": "drawingml/2006/wordprocessingDrawing",
        "drawingml/spreadsheetDrawing": "drawingml/2006/spreadsheetDrawing",
        "officeDocument/relationships": "officeDocument/2006/relationships",
        "officeDocument/math": "officeDocument/2006/math",
        "officeDocument/bibliography": "officeDocument/2006/bibliography",
        "officeDocument/characteristics": "officeDocument/2006/characteristics",
        "officeDocument/customXml": "officeDocument/2006/customXml",
        "officeDocument/sharedTypes": "officeDocument/2006/sharedTypes",
        "officeDocument/docPropsVTypes": "officeDocument/2006/docPropsVTypes",
        "officeDocument/extendedProperties": "officeDocument/2006/extended-properties",
        "officeDocument/customProperties": "officeDocument/2006/custom-properties",
        "presentationml/ole": "presentationml/2006/ole",
        "schemaLibrary/main": "schemaLibrary/2006/main",
    }.items()
}
_STRICT_RELATIONSHIPS = STRICT_PREFIX + "officeDocument/relationships/"
_TRANSITIONAL_RELATIONSHIPS = _OPENXML + "officeDocument/2006/relationships/"
#: Relationship types whose last segment differs between the two spellings.
_RENAMED_RELATIONSHIPS = {
    "extendedProperties": "extended-properties",
    "customProperties": "custom-properties",
}


def is_strict(uri: str) -> bool:
    return uri.startswith(STRICT_PREFIX)


def transitional_namespace(uri: str) -> str:
    """The transitional twin of a Strict namespace; any other URI unchanged."""
    return _NAMESPACES.get(uri, uri)


def has_twin(uri: str) -> bool:
    """False for a Strict-looking URI the standard does not define: nothing could judge it."""
    return not is_strict(uri) or uri in _NAMESPACES


def transitional_relationship_type(rel_type: str) -> str:
    if not rel_type.startswith(_STRICT_RELATIONSHIPS):
        return rel_type
    last = rel_type[len(_STRICT_RELATIONSHIPS) :]
    return _TRANSITIONAL_RELATIONSHIPS + _RENAMED_RELATIONSHIPS.get(last, last)


def transitional_value(value: str) -> str:
    """An attribute value that is itself a namespace (``a:graphicData uri="..."``)."""
    return _NAMESPACES.get(value, value) if value.startswith(STRICT_PREFIX) else value
