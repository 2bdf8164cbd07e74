"""``[Content_Types].xml``: what each part declares itself to be, read and written."""

from __future__ import annotations

import posixpath
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from sanitizers.errors import MalformedError
from sanitizers.ooxml.package import Package
from sanitizers.ooxml.vocabulary import NS_CONTENT_TYPES, RELATIONSHIPS_CONTENT_TYPE
from sanitizers.ooxml.xmltree import XmlDocument, parse_xml, serialise_xml

CONTENT_TYPES_PART = "[Content_Types].xml"
#: Characters a part name may show unencoded in a URI (RFC 3986 pchar, and "/").
_PART_NAME_SAFE = "/!$&'()*+,;=:@-._~"


@dataclass(frozen=True)
class ContentTypes:
    """Defaults by extension and overrides by part name, keys case-folded.

    Values keep the input's spelling (Office writes ``stylesWithEffects+xml``); compare
    them in lower case, as media types are case-insensitive.
    """

    defaults: Mapping[str, str]
    overrides: Mapping[str, str]

    def of(self, part_name: str) -> str | None:
        """The part's content type as declared, or None when it declares none."""
        override = self.overrides.get(part_name.casefold())
        if override is not None:
            return override
        extension = posixpath.splitext(part_name)[1][1:]
        return self.defaults.get(extension.casefold())


def part_name_key(untrusted_part_name: str) -> str:
    """A PartName attribute (``/word/document.xml``, percent-encoded) as a lookup key."""
    return unicodedata.normalize("NFC", unquote(untrusted_part_name).lstrip("/")).casefold()


def read_content_types(package: Package) -> ContentTypes:
    name = package.lookup(CONTENT_TYPES_PART)
    if name is None:
        raise MalformedError("ooxml.malformed", f"the package has no {CONTENT_TYPES_PART}")
    root = parse_xml(package.read(name), CONTENT_TYPES_PART).root
    if root.tag != f"{{{NS_CONTENT_TYPES}}}Types":
        raise MalformedError("ooxml.malformed", f"{CONTENT_TYPES_PART} has the root element {root.tag!r}")
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for child in root:
        content_type = child.get("ContentType", "").strip()
        if child.tag == f"{{{NS_CONTENT_TYPES}}}Default":
            table, key = defaults, child.get("Extension", "").casefold()
        elif child.tag == f"{{{NS_CONTENT_TYPES}}}Override":
            table, key = overrides, part_name_key(child.get("PartName", ""))
        else:
            continue
        if not key or not content_type:
            raise MalformedError("ooxml.malformed", f"{CONTENT_TYPES_PART}: an entry lacks its name or type")
        if table.setdefault(key, content_type).lower() != content_type.lower():
            # two readers could pick different answers: an ambiguity to refuse, not to guess
            raise MalformedError("ooxml.malformed", f"{CONTENT_TYPES_PART} declares {key!r} twice")
    return ContentTypes(defaults, overrides)


def part_name_uri(name: str) -> str:
    """A part name as OPC writes it in PartName and relationship targets."""
    return quote(name, safe=_PART_NAME_SAFE)


def content_types_xml(parts: Mapping[str, str]) -> bytes:
    """Defaults for relationships and plain XML; an override for every part written."""
    root = ET.Element(f"{{{NS_CONTENT_TYPES}}}Types")
    for extension, content_type in (("rels", RELATIONSHIPS_CONTENT_TYPE), ("xml", "application/xml")):
        ET.SubElement(root, f"{{{NS_CONTENT_TYPES}}}Default", Extension=extension, ContentType=content_type)
    for name, content_type in parts.items():
        ET.SubElement(
            root,
            f"{{{NS_CONTENT_TYPES}}}Override",
            PartName="/" + part_name_uri(name),
            ContentType=content_type,
        )
    return serialise_xml(XmlDocument(root, [("", NS_CONTENT_TYPES)]))
