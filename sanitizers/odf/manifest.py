"""``META-INF/manifest.xml``: read for what it says about encryption, written anew.

An encrypted document lists how each member is encrypted (``manifest:encryption-data``)
or, in ODF 1.3, the keys of the whole package (``manifest:keyinfo``): its content cannot
be inspected (``office.encrypted``).  The output's manifest lists exactly the members the
rebuild wrote, with the media types it knows them to have; nothing else of the input's
manifest but its ODF version is carried over.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sanitizers.errors import EncryptedError, MalformedError
from sanitizers.odf.vocabulary import MANIFEST, NS_MANIFEST, VERSIONS, q
from sanitizers.odf.xmlparts import parse_part
from sanitizers.ooxml.xmltree import XmlDocument, serialise_xml

_ROOT = q(NS_MANIFEST, "manifest")
_ENTRY = q(NS_MANIFEST, "file-entry")
_FULL_PATH = q(NS_MANIFEST, "full-path")
_MEDIA_TYPE = q(NS_MANIFEST, "media-type")
_VERSION = q(NS_MANIFEST, "version")
_ENCRYPTION = frozenset({q(NS_MANIFEST, "encryption-data"), q(NS_MANIFEST, "keyinfo")})


@dataclass(frozen=True)
class Manifest:
    version: str | None  # the ODF version the package declares, when it is one


def read_manifest(untrusted_data: bytes) -> Manifest:
    root = parse_part(untrusted_data, MANIFEST).root
    if root.tag != _ROOT:
        raise MalformedError("odf.malformed", f"{MANIFEST} is not a manifest")
    if any(element.tag in _ENCRYPTION for element in root.iter()):
        raise EncryptedError("office.encrypted", "encrypted OpenDocument package")
    untrusted_version = root.get(_VERSION)
    return Manifest(untrusted_version if untrusted_version in VERSIONS else None)


def manifest_xml(media_type: str, version: str | None, members: list[tuple[str, str]]) -> bytes:
    """The manifest of a package holding ``members`` ((name, media type), in order)."""
    versioned = {_VERSION: version} if version else {}
    root = ET.Element(_ROOT, versioned)
    ET.SubElement(root, _ENTRY, {_FULL_PATH: "/", **versioned, _MEDIA_TYPE: media_type})
    for name, member_type in members:
        ET.SubElement(root, _ENTRY, {_FULL_PATH: name, _MEDIA_TYPE: member_type})
    return serialise_xml(XmlDocument(root, [("manifest", NS_MANIFEST)]))
