"""Which parser sees a part, and that no route lets a DTD or entity through."""

from __future__ import annotations

import pytest

from sanitizers.errors import SanitizeError
from sanitizers.ooxml.xmltree import parse_xml

LAUGHS = '<!DOCTYPE a [<!ENTITY x "ha"><!ENTITY y "&x;&x;&x;&x;">]><a>&y;</a>'


@pytest.mark.parametrize(
    "data",
    [
        LAUGHS.encode(),
        b"\xef\xbb\xbf" + LAUGHS.encode(),
        LAUGHS.encode("utf-16"),  # a byte scan cannot read this: the guarded parser must
        b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
        b"<a><!-- <!ENTITY hidden in a comment is refused too --></a>",
    ],
)
def test_declarations_are_an_attack_on_every_route(data: bytes) -> None:
    with pytest.raises(SanitizeError) as caught:
        parse_xml(data, "part.xml")
    assert caught.value.code == "ooxml.xml_attack"


def test_an_exotic_declared_encoding_is_never_expanded() -> None:
    data = b'<?xml version="1.0" encoding="cp037"?>' + LAUGHS.encode("cp037")
    with pytest.raises(SanitizeError) as caught:
        parse_xml(data, "part.xml")
    assert caught.value.code in {"ooxml.xml_attack", "ooxml.malformed"}


def test_office_conditional_vml_is_malformed_not_an_attack() -> None:
    with pytest.raises(SanitizeError) as caught:
        parse_xml(b"<xml><![if !supportLists]><a/><![endif]></xml>", "vmlDrawing1.vml")
    assert caught.value.code == "ooxml.malformed"


def test_plain_parts_parse_with_their_namespaces() -> None:
    document = parse_xml(
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<w:document xmlns:w="urn:w"><w:body><![CDATA[x]]><w:p/></w:body></w:document>',
        "document.xml",
    )
    assert document.root.tag == "{urn:w}document"
    assert ("w", "urn:w") in document.declarations
