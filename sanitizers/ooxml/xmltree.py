"""XML parts: parsed with no DTD or entity allowed, written back from the tree alone.

Office resolves the prefixes named inside attribute values (``mc:Ignorable="w14 wp14"``,
``mc:Choice Requires="wps"``, ``xsi:type="dcterms:W3CDTF"``), not only those of element
and attribute names.  ElementTree's own writer declares only the namespaces it sees in
names and invents ``ns0`` prefixes, which would leave those values pointing nowhere.  So
the parser remembers which namespaces such values named, in the scope of their element,
and the writer declares every namespace of the input on the root element, under the
prefix the input used for it where it can, and rewrites the values with the output's
prefixes; a prefix that named nothing is dropped from the value rather than left dangling.
"""

from __future__ import annotations

import functools
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from sanitizers.errors import MalformedError
from sanitizers.ooxml.strict import has_twin, is_strict, transitional_namespace, transitional_value
from sanitizers.ooxml.vocabulary import NS_MC, NS_XML

#: Deeper nesting than any Office document uses; bounds the recursion of the writer.
MAX_DEPTH = 400
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_CHOICE = f"{{{NS_MC}}}Choice"
_REQUIRES = "Requires"  # on mc:Choice, unqualified
#: Attributes whose values are lists of prefixes (or prefix:name).
_PREFIX_LISTS = frozenset(
    f"{{{NS_MC}}}{name}"
    for name in ("Ignorable", "ProcessContent", "MustUnderstand", "PreserveElements", "PreserveAttributes")
)
_NAMING_PREFIXES = _PREFIX_LISTS | {_XSI_TYPE}
_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY", b"<!ELEMENT", b"<!ATTLIST", b"<!NOTATION")
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'


@dataclass
class XmlDocument:
    root: ET.Element
    #: every (prefix, uri) declaration of the input, in document order ("" = default)
    declarations: list[tuple[str, str]] = field(default_factory=list)
    #: for elements with prefixes in attribute values: the prefixes in scope there
    scopes: dict[ET.Element, dict[str, str]] = field(default_factory=dict)
    #: the input was ISO/IEC 29500 Strict and now reads as transitional
    converted_from_strict: bool = False

    def resolvable(self, element: ET.Element, prefixes: str) -> bool:
        """True when every prefix in the space-separated list is bound at ``element``."""
        scope = self.scopes.get(element, {})
        return all(prefix in scope for prefix in prefixes.split())


def parse_xml(untrusted_data: bytes, where: str) -> XmlDocument:
    """Parse one part; DTDs and entities are ``ooxml.xml_attack``, junk ``ooxml.malformed``."""
    declarations: list[tuple[str, str]] = []
    scopes: dict[ET.Element, dict[str, str]] = {}
    in_scope: list[dict[str, str]] = [{}]
    declared_here: dict[str, str] = {}
    try:
        events = _iterparse(untrusted_data, where)
        for event, item in events:
            if event == "start-ns":
                declarations.append(item)
                declared_here[item[0]] = item[1]
            elif event == "start":
                in_scope.append({**in_scope[-1], **declared_here} if declared_here else in_scope[-1])
                declared_here = {}
                if len(in_scope) > MAX_DEPTH:
                    raise MalformedError(
                        "ooxml.malformed", f"{where}: elements nested deeper than {MAX_DEPTH}"
                    )
                if item.tag == _CHOICE or not _NAMING_PREFIXES.isdisjoint(item.attrib):
                    scopes[item] = in_scope[-1]
            else:
                in_scope.pop()
        root = events.root  # type: ignore[attr-defined]
    except DefusedXmlException as exc:  # a DTD, entity or external reference: never legitimate here
        raise MalformedError("ooxml.xml_attack", f"{where}: {exc}") from None
    except ET.ParseError as exc:
        raise MalformedError("ooxml.malformed", f"{where}: not well-formed XML: {exc}") from None
    document = XmlDocument(root, declarations, scopes)
    if any(is_strict(uri) for _, uri in declarations):
        unknown = next((uri for _, uri in declarations if not has_twin(uri)), None)
        if unknown is not None:
            raise MalformedError(
                "ooxml.malformed", f"{where}: {unknown[:80]!r} is no ISO/IEC 29500 namespace"
            )
        _to_transitional(document)
    return document


def _to_transitional(document: XmlDocument) -> None:
    """Every Strict name, declaration and in-scope prefix rewritten to its transitional twin."""

    def name(qualified: str) -> str:
        uri, local = split_tag(qualified)
        return f"{{{transitional_namespace(uri)}}}{local}" if is_strict(uri) else qualified

    for element in document.root.iter():
        element.tag = name(element.tag)
        if element.attrib:
            renamed = {name(key): transitional_value(value) for key, value in element.attrib.items()}
            element.attrib.clear()
            element.attrib.update(renamed)
    document.declarations = [(prefix, transitional_namespace(uri)) for prefix, uri in document.declarations]
    for element, scope in document.scopes.items():
        document.scopes[element] = {prefix: transitional_namespace(uri) for prefix, uri in scope.items()}
    document.converted_from_strict = True


def _iterparse(untrusted_data: bytes, where: str) -> Iterator[tuple[str, Any]]:
    """Expat's C parser for the usual 8-bit part; defusedxml's slower guarded one otherwise.

    Without a DOCTYPE no entity can be declared, so a part in which no markup declaration
    appears (even inside a comment: we refuse rather than parse to find out) is safe for
    the C parser. A part in any other encoding (UTF-16, or an 8-bit code page expat would
    decode through Python's codecs), which a byte scan cannot read, gets the guarded parser.
    """
    stream = io.BytesIO(untrusted_data)
    events: tuple[Literal["start-ns"], Literal["start"], Literal["end"]] = ("start-ns", "start", "end")
    if not _plainly_utf8(untrusted_data):
        guarded = SafeET.iterparse(
            stream, events=events, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        return cast(Iterator[tuple[str, Any]], guarded)
    for declaration in _DECLARATIONS:  # the only markup that can declare entities
        if declaration in untrusted_data:
            raise MalformedError(
                "ooxml.xml_attack", f"{where}: a markup declaration ({declaration.decode()[2:]})"
            )
    return ET.iterparse(stream, events=events)  # noqa: S314 - no DTD, hence no entities (checked above)


def _plainly_utf8(data: bytes) -> bool:
    """No BOM but UTF-8's, no NUL bytes, and an XML declaration (if any) naming UTF-8 or ASCII."""
    head = data.removeprefix(b"\xef\xbb\xbf")[:200]
    if b"\x00" in head or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return False
    match = _ENCODING.match(head)
    return match is None or match.group(1).lower() in (b"utf-8", b"utf8", b"us-ascii", b"ascii")


@functools.lru_cache(maxsize=8192)  # a document uses a few hundred distinct names at most
def split_tag(tag: str) -> tuple[str, str]:
    """``{uri}local`` → (uri, local); an unqualified name has the namespace ""."""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def prune(root: ET.Element, keep: Callable[[ET.Element, ET.Element], bool]) -> None:
    """Offer every element below ``root`` to ``keep(parent, child)``, depth first.

    A refused element goes with its subtree and is not entered; the text that followed
    it (its tail) stays in place.  ``keep`` may change the element it is given.
    """
    stack = [root]
    while stack:
        parent = stack.pop()
        survivors: list[ET.Element] = []
        for child in parent:
            if keep(parent, child):
                survivors.append(child)
            elif child.tail:
                if survivors:
                    survivors[-1].tail = (survivors[-1].tail or "") + child.tail
                else:
                    parent.text = (parent.text or "") + child.tail
        if len(survivors) != len(parent):
            parent[:] = survivors
        stack.extend(survivors)


class _Namespaces:
    """The output's prefix for every namespace of the input."""

    def __init__(self, document: XmlDocument) -> None:
        tags: set[str] = set()
        keys: set[str] = set()
        for element in document.root.iter():
            tags.add(element.tag)
            if element.attrib:
                keys.update(element.attrib)
        element_namespaces = {split_tag(tag)[0] for tag in tags}
        on_attributes = {split_tag(key)[0] for key in keys}
        unqualified = "" in element_namespaces
        used = (element_namespaces | on_attributes) - {"", NS_XML}
        self.element_prefix: dict[str, str] = {}
        taken: set[str] = set()
        for prefix, uri in [*document.declarations, *(("", uri) for uri in sorted(used))]:
            if not uri or uri in self.element_prefix or uri == NS_XML:  # xmlns="" only undeclares
                continue
            # unqualified elements need the default namespace left empty
            if prefix in taken or (prefix == "" and unqualified):
                prefix = self._fresh(taken)
            taken.add(prefix)
            self.element_prefix[uri] = prefix
        # attributes never take the default namespace, so give it a prefix of its own
        self.attribute_prefix = dict(self.element_prefix)
        for uri, prefix in self.element_prefix.items():
            if prefix == "" and uri in on_attributes:
                self.attribute_prefix[uri] = fresh = self._fresh(taken)
                taken.add(fresh)
        self.attribute_prefix[NS_XML] = "xml"
        self._element_names: dict[str, str] = {}
        self._attribute_names: dict[str, str] = {}

    @staticmethod
    def _fresh(taken: set[str]) -> str:
        number = 0
        while f"ns{number}" in taken:
            number += 1
        return f"ns{number}"

    def declarations(self) -> str:
        pairs = {(p, u) for u, p in self.element_prefix.items()} | {
            (p, u) for u, p in self.attribute_prefix.items()
        }
        return "".join(
            f' xmlns="{_escape_attribute(u)}"' if not p else f' xmlns:{p}="{_escape_attribute(u)}"'
            for p, u in sorted(pairs)
            if u != NS_XML
        )

    def element_name(self, tag: str) -> str:
        name = self._element_names.get(tag)
        if name is None:
            uri, local = split_tag(tag)
            prefix = self.element_prefix.get(uri, "") if uri else ""
            name = self._element_names[tag] = f"{prefix}:{local}" if prefix else local
        return name

    def attribute_name(self, key: str) -> str:
        name = self._attribute_names.get(key)
        if name is None:
            uri, local = split_tag(key)
            name = self._attribute_names[key] = f"{self.attribute_prefix[uri]}:{local}" if uri else local
        return name

    def _output_prefix(self, prefix: str, scope: dict[str, str]) -> str | None:
        uri = scope.get(prefix) if prefix else None
        return self.attribute_prefix.get(uri) if uri is not None else None

    def translate_prefixes(self, value: str, scope: dict[str, str]) -> str:
        """A list of input prefixes (or prefix:name) rewritten with the output's prefixes."""
        tokens = []
        for token in value.split():
            prefix, colon, rest = token.partition(":")
            output = self._output_prefix(prefix, scope)
            if output is not None:
                tokens.append(output + colon + rest)
        return " ".join(tokens)

    def translate_qname(self, value: str, scope: dict[str, str]) -> str:
        prefix, colon, rest = value.partition(":")
        output = self._output_prefix(prefix, scope) if colon else None
        return f"{output}:{rest}" if output is not None else value


def serialise_xml(document: XmlDocument) -> bytes:
    """The tree as UTF-8 XML, every input namespace declared on the root."""
    names = _Namespaces(document)
    out: list[str] = []
    _write(document.root, document, names, out, names.declarations())
    return _DECLARATION + "".join(out).encode("utf-8")


def _write(
    element: ET.Element, document: XmlDocument, names: _Namespaces, out: list[str], declarations: str = ""
) -> None:
    tag = names.element_name(element.tag)
    out.append(f"<{tag}{declarations}")
    if element.attrib:
        out.append(_attributes(element, document, names))
    if element.text or len(element):
        out.append(">")
        if element.text:
            out.append(_escape_text(element.text))
        for child in element:
            _write(child, document, names, out)
            if child.tail:
                out.append(_escape_text(child.tail))
        out.append(f"</{tag}>")
    else:
        out.append("/>")


def _attributes(element: ET.Element, document: XmlDocument, names: _Namespaces) -> str:
    attributes = element.attrib
    if element.tag != _CHOICE and _NAMING_PREFIXES.isdisjoint(attributes):
        return "".join(f' {names.attribute_name(k)}="{_escape_attribute(v)}"' for k, v in attributes.items())
    scope = document.scopes.get(element, {})
    written = []
    for key, value in attributes.items():
        if key in _PREFIX_LISTS or (key == _REQUIRES and element.tag == _CHOICE):
            value = names.translate_prefixes(value, scope)
            if not value:
                continue
        elif key == _XSI_TYPE:
            value = names.translate_qname(value, scope)
        written.append(f' {names.attribute_name(key)}="{_escape_attribute(value)}"')
    return "".join(written)


def _escape_text(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:  # a literal CR would be read back as LF
        text = text.replace("\r", "&#13;")
    return text


def _escape_attribute(value: str) -> str:
    value = _escape_text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    for raw, escaped in (("\n", "&#10;"), ("\t", "&#9;")):
        if raw in value:
            value = value.replace(raw, escaped)
    return value
