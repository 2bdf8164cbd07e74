"""OpenDocument names: namespaces, the kinds rebuilt, the parts a package may keep."""

from __future__ import annotations

from dataclasses import dataclass

NS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
NS_META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
NS_CONFIG = "urn:oasis:names:tc:opendocument:xmlns:config:1.0"
NS_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
NS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
NS_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
NS_PRESENTATION = "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"
NS_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
NS_FORM = "urn:oasis:names:tc:opendocument:xmlns:form:1.0"
NS_SCRIPT = "urn:oasis:names:tc:opendocument:xmlns:script:1.0"
NS_SVG = "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
NS_ANIM = "urn:oasis:names:tc:opendocument:xmlns:animation:1.0"
NS_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
NS_CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
NS_LOEXT = "urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"
#: Impress writes its comments in this namespace (``officeooo:annotation``).
NS_OFFICEOOO = "http://openoffice.org/2009/office"
NS_XLINK = "http://www.w3.org/1999/xlink"
NS_XFORMS = "http://www.w3.org/2002/xforms"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_XML = "http://www.w3.org/XML/1998/namespace"

XLINK_HREF = f"{{{NS_XLINK}}}href"
MEDIA_PREFIX = "application/vnd.oasis.opendocument."

MIMETYPE = "mimetype"
MANIFEST = "META-INF/manifest.xml"
CONTENT = "content.xml"
STYLES = "styles.xml"
META = "meta.xml"
SETTINGS = "settings.xml"
THUMBNAIL = "Thumbnails/thumbnail.png"
#: The folder every picture of the output is written to, under a name of the rebuild's own.
PICTURES = "Pictures/"
#: The XML parts a package keeps, each with the root element it must have.
XML_PARTS: dict[str, str] = {
    CONTENT: f"{{{NS_OFFICE}}}document-content",
    STYLES: f"{{{NS_OFFICE}}}document-styles",
    META: f"{{{NS_OFFICE}}}document-meta",
    SETTINGS: f"{{{NS_OFFICE}}}document-settings",
}
FLAT_ROOT = f"{{{NS_OFFICE}}}document"
FLAT_MIMETYPE = f"{{{NS_OFFICE}}}mimetype"
#: Versions of ODF a manifest may name.
VERSIONS = frozenset({"1.0", "1.1", "1.2", "1.3", "1.4"})


@dataclass(frozen=True)
class Kind:
    """One kind of document the rebuild writes: its package and flat output types."""

    media_types: frozenset[str]  # the document's and its template's
    package_type: str
    flat_type: str


KINDS: tuple[Kind, ...] = tuple(
    Kind(frozenset({MEDIA_PREFIX + name, f"{MEDIA_PREFIX}{name}-template"}), package, flat)
    for name, package, flat in (
        ("text", "odt", "fodt"),
        ("spreadsheet", "ods", "fods"),
        ("presentation", "odp", "fodp"),
    )
)


def kind_of(media_type: str) -> Kind | None:
    return next((kind for kind in KINDS if media_type in kind.media_types), None)


def q(namespace: str, local: str) -> str:
    """ElementTree's name for ``local`` in ``namespace``."""
    return f"{{{namespace}}}{local}"
