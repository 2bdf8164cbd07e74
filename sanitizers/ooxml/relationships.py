"""Relationship parts (``_rels/*.rels``): read, resolved to part names, written back."""

from __future__ import annotations

import posixpath
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import unquote

from sanitizers.errors import MalformedError
from sanitizers.ooxml.contenttypes import part_name_uri
from sanitizers.ooxml.strict import transitional_relationship_type
from sanitizers.ooxml.vocabulary import NS_PACKAGE_RELATIONSHIPS
from sanitizers.ooxml.xmltree import XmlDocument, parse_xml, serialise_xml

_RELATIONSHIP = f"{{{NS_PACKAGE_RELATIONSHIPS}}}Relationship"
#: Relationship ids are XML ids (NCName); anything else cannot be referenced from XML.
_ID = re.compile(r"[A-Za-z_][\w.\-]*\Z")


@dataclass(frozen=True)
class Relationship:
    id: str
    type: str
    untrusted_target: str
    external: bool
    #: the type was spelled in ISO/IEC 29500 Strict and is now its transitional twin
    converted_from_strict: bool = False


@dataclass(frozen=True)
class KeptRelationship:
    """A relationship of the output: to a part (by name) or to an allowed web address."""

    id: str
    type: str
    target_part: str | None = None
    external_target: str | None = None


def relationships_part(source_part: str) -> str:
    """Where the relationships of ``source_part`` live; "" is the package itself."""
    folder, base = posixpath.split(source_part)
    return posixpath.join(folder, "_rels", f"{base}.rels")


def parse_relationships(untrusted_data: bytes, where: str) -> list[Relationship]:
    root = parse_xml(untrusted_data, where).root
    if root.tag != f"{{{NS_PACKAGE_RELATIONSHIPS}}}Relationships":
        raise MalformedError("ooxml.malformed", f"{where} has the root element {root.tag!r}")
    relationships: list[Relationship] = []
    seen: set[str] = set()
    for element in root.iter(_RELATIONSHIP):
        rid, spelled_type = element.get("Id", ""), element.get("Type", "").strip()
        rel_type = transitional_relationship_type(spelled_type)
        mode = element.get("TargetMode", "Internal")
        if not _ID.match(rid) or not rel_type or mode not in ("Internal", "External"):
            raise MalformedError("ooxml.malformed", f"{where}: relationship {rid[:60]!r} is not well-formed")
        if rid in seen:
            raise MalformedError("ooxml.malformed", f"{where}: relationship id {rid!r} is used twice")
        seen.add(rid)
        relationships.append(
            Relationship(
                rid, rel_type, element.get("Target", ""), mode == "External", rel_type != spelled_type
            )
        )
    return relationships


def resolve_target(source_part: str, untrusted_target: str) -> str | None:
    """The part an internal target names, or None when it names none inside the package."""
    if not untrusted_target or any(ch in untrusted_target for ch in "\\#?"):
        return None
    path = unquote(untrusted_target)
    joined = path[1:] if path.startswith("/") else posixpath.join(posixpath.dirname(source_part), path)
    normal = posixpath.normpath(joined)
    if normal in (".", "..") or normal.startswith(("../", "/")):
        return None
    return unicodedata.normalize("NFC", normal)


def relationships_xml(source_part: str, relationships: list[KeptRelationship]) -> bytes:
    """Targets are written relative to the source part's folder, as Office writes them."""
    root = ET.Element(f"{{{NS_PACKAGE_RELATIONSHIPS}}}Relationships")
    start = posixpath.dirname(source_part) or "."
    for relationship in relationships:
        attributes = {"Id": relationship.id, "Type": relationship.type}
        if relationship.target_part is not None:
            attributes["Target"] = part_name_uri(posixpath.relpath(relationship.target_part, start))
        else:
            attributes["Target"] = relationship.external_target or ""
            attributes["TargetMode"] = "External"
        ET.SubElement(root, _RELATIONSHIP, attributes)
    return serialise_xml(XmlDocument(root, [("", NS_PACKAGE_RELATIONSHIPS)]))
