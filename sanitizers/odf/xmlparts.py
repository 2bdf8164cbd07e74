"""XML parts parsed by the OOXML parser (no DTD, no entity, bounded depth), refusing with
OpenDocument's codes, and written back from the tree alone by its writer."""

from __future__ import annotations

from sanitizers.errors import MalformedError
from sanitizers.ooxml.xmltree import XmlDocument, parse_xml

_AS_ODF_CODE = {"ooxml.xml_attack": "odf.xml_attack", "ooxml.malformed": "odf.malformed"}


def parse_part(untrusted_data: bytes, where: str) -> XmlDocument:
    """Parse one part; DTDs and entities are ``odf.xml_attack``, junk ``odf.malformed``."""
    try:
        return parse_xml(untrusted_data, where)
    except MalformedError as exc:
        raise MalformedError(_AS_ODF_CODE.get(exc.code, "odf.malformed"), exc.detail) from None
