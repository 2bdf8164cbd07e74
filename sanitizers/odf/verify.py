"""Independent re-check of a rebuilt OpenDocument, from its bytes alone.

Nothing here trusts the rebuild: the output is reopened with zipfile and ElementTree, and
held to what the rebuild promises.  The package holds only the members a rebuild writes
(``mimetype`` first and stored, the four XML parts, pictures under names of the rebuild's
own, the thumbnail only when metadata stays, the manifest), each listed in a manifest that
encrypts nothing; no element that runs, embeds or fetches anything is left, in any part;
``xlink:href`` appears only on hyperlinks ``links`` keeps and on pictures that are members;
no formula reaches outside; every picture reads back as the image sanitiser writes one;
comments and who wrote what follow the options.  Any hit is a bug in the rebuild and stops
the file (``odf.verify_failed``).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator

from sanitizers.errors import SanitizeError, VerifyError
from sanitizers.fields import judge_instruction
from sanitizers.links import keep_link
from sanitizers.odf.formulas import reaches_outside
from sanitizers.odf.vocabulary import (
    FLAT_MIMETYPE,
    FLAT_ROOT,
    MANIFEST,
    MIMETYPE,
    NS_MANIFEST,
    NS_XLINK,
    THUMBNAIL,
    XML_PARTS,
    kind_of,
)
from sanitizers.ooxml.verify import check_picture

_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_FORM = "{urn:oasis:names:tc:opendocument:xmlns:form:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"
_CONFIG = "{urn:oasis:names:tc:opendocument:xmlns:config:1.0}"
_PRESENTATION = "{urn:oasis:names:tc:opendocument:xmlns:presentation:1.0}"
_ANIM = "{urn:oasis:names:tc:opendocument:xmlns:animation:1.0}"
_SVG = "{urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0}"
_CALCEXT = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"
_SCRIPT_NS = "urn:oasis:names:tc:opendocument:xmlns:script:1.0"
_XFORMS = "{http://www.w3.org/2002/xforms}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_FIELD = "{urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0}"
_HREF = f"{{{NS_XLINK}}}href"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

#: Elements no rebuilt document holds, wherever they are.
_FORBIDDEN = frozenset(
    {
        *(f"{_OFFICE}{local}" for local in ("scripts", "script", "event-listeners", "dde-source")),
        *(f"{_TEXT}{local}" for local in ("script", "execute-macro", "dde-connection-decls", "dde-connection",
                                          "section-source", "database-display", "database-next",
                                          "database-row-select", "database-row-number")),
        *(f"{_TABLE}{local}" for local in ("dde-links", "dde-link", "table-source", "cell-range-source",
                                           "error-macro", "database-source-sql", "database-source-table",
                                           "database-source-query", "source-service")),
        *(f"{_DRAW}{local}" for local in ("object", "object-ole", "plugin", "applet", "floating-frame")),
        f"{_PRESENTATION}event-listener",
        f"{_PRESENTATION}sound",
        f"{_ANIM}audio",
        f"{_ANIM}command",
        f"{_SVG}font-face-src",
        f"{_SVG}font-face-uri",
        f"{_FORM}connection-resource",
        f"{_XFORMS}submission",
    }
)  # fmt: skip
_PICTURES = frozenset({f"{_DRAW}image", f"{_DRAW}fill-image", f"{_STYLE}background-image",
                       f"{_TEXT}list-level-style-image"})  # fmt: skip
_LINKS = frozenset({f"{_TEXT}a", f"{_DRAW}a", f"{_DRAW}area-rectangle", f"{_DRAW}area-circle",
                    f"{_DRAW}area-polygon"})  # fmt: skip
_COMMENTS = frozenset({f"{_OFFICE}annotation", f"{_OFFICE}annotation-end",
                       "{http://openoffice.org/2009/office}annotation"})  # fmt: skip
_FORMULAS = {
    f"{_TABLE}formula",
    f"{_TABLE}expression",
    f"{_TABLE}condition",
    f"{_CALCEXT}value",
    f"{_STYLE}condition",
}
_NAMED_RANGE = f"{_TABLE}named-range"
_KEPT_PROPERTIES = frozenset({f"{_META}document-statistic", f"{_META}generator"})
_SETTING_TYPES = frozenset({"boolean", "short", "int", "long", "double"})
_PICTURE_NAME = re.compile(r"Pictures/[0-9]{4}\.(png|jpg|gif|tiff|bmp|webp|wmf|emf)")
_MANIFEST_ENTRY = f"{{{NS_MANIFEST}}}file-entry"
_MANIFEST_PATH = f"{{{NS_MANIFEST}}}full-path"
_ENCRYPTION = (f"{{{NS_MANIFEST}}}encryption-data", f"{{{NS_MANIFEST}}}keyinfo")


def verify_package(data: bytes, links: str, keep_comments: bool, keep_metadata: bool) -> None:
    """Raise ``odf.verify_failed`` unless the package holds nothing it must not."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names) or archive.testzip() is not None:
                raise _failed("duplicate or corrupt members")
            first = infos[0] if infos else None
            if first is None or first.filename != MIMETYPE or first.compress_type != zipfile.ZIP_STORED:
                raise _failed("the mimetype member is not first and stored")
            if kind_of(archive.read(MIMETYPE).decode("ascii")) is None:
                raise _failed("the mimetype is not a text, spreadsheet or presentation")
            pictures = {name for name in names if _PICTURE_NAME.fullmatch(name)}
            allowed = {MIMETYPE, MANIFEST, *XML_PARTS, *pictures, *([THUMBNAIL] if keep_metadata else [])}
            if not set(names) <= allowed:
                raise _failed(f"members a rebuild does not write: {sorted(set(names) - allowed)[:5]}")
            _check_manifest(_parse(archive.read(MANIFEST), MANIFEST), set(names))
            for name in sorted(pictures | ({THUMBNAIL} & set(names))):
                _check_picture(name, archive.read(name))
            for name, root_tag in XML_PARTS.items():
                if name in names:
                    root = _parse(archive.read(name), name)
                    if root.tag != root_tag:
                        raise _failed(f"{name} has the root {root.tag!r}")
                    _check_tree(name, root, links, keep_comments, keep_metadata, pictures)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise _failed(f"the package does not reopen: {exc}") from None


def verify_flat(data: bytes, links: str, keep_comments: bool, keep_metadata: bool) -> None:
    """Raise ``odf.verify_failed`` unless the flat document holds nothing it must not."""
    root = _parse(data, "document")
    if root.tag != FLAT_ROOT or kind_of(root.get(FLAT_MIMETYPE, "")) is None:
        raise _failed("not a flat text, spreadsheet or presentation")
    _check_tree("document", root, links, keep_comments, keep_metadata, None)


def _failed(why: str) -> VerifyError:
    return VerifyError("odf.verify_failed", why)


def _parse(data: bytes, where: str) -> ET.Element:
    """Parse what the rebuild wrote: UTF-8, so a declaration would show in the bytes."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _failed(f"{where} declares a DTD or entities")
    try:
        # ElementTree's C parser fetches nothing external; with no DTD there is nothing to expand
        return ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise _failed(f"{where} does not parse: {exc}") from None


def _check_manifest(root: ET.Element, names: set[str]) -> None:
    if any(element.tag in _ENCRYPTION for element in root.iter()):
        raise _failed("the manifest encrypts something")
    listed = {entry.get(_MANIFEST_PATH, "") for entry in root.iter(_MANIFEST_ENTRY)}
    if "/" not in listed or not listed - {"/"} <= names or names - {MIMETYPE, MANIFEST} != listed - {"/"}:
        raise _failed("the manifest does not list exactly the members")


def _check_picture(name: str, data: bytes) -> None:
    try:
        check_picture(name, data)
    except SanitizeError as exc:  # the OOXML check's own code, or the image scan's
        raise _failed(f"{name}: not a picture as the rebuild writes one ({exc.detail})") from None


def _check_tree(
    name: str,
    root: ET.Element,
    links: str,
    keep_comments: bool,
    keep_metadata: bool,
    pictures: set[str] | None,  # the package's picture members; None for a flat document
) -> None:
    for parent, element in _with_parents(root):
        where = f"{name}: {element.tag.rpartition('}')[2]}"
        if element.tag in _FORBIDDEN or element.tag.startswith(f"{{{_SCRIPT_NS}}}"):
            raise _failed(f"{where} is left")
        if element.tag in _COMMENTS and not keep_comments:
            raise _failed(f"{where}: a comment in a file whose rule removes them")
        if element.tag == f"{_DC}creator" and not keep_metadata and (element.text or "").strip():
            raise _failed(f"{where}: an author's name in a file whose rule removes metadata")
        if element.tag == f"{_OFFICE}meta":
            _check_properties(where, element, keep_metadata)
        elif element.tag == f"{_OFFICE}settings":
            _check_settings(where, element)
        elif element.tag == f"{_OFFICE}binary-data":
            _check_inline_picture(where, parent, element)
        elif element.tag == f"{_FIELD}param" and _is_dangerous_field_code(element, links):
            raise _failed(f"{where}: a field code that fetches or runs something")
        _check_attributes(where, element, links, pictures)


def _is_dangerous_field_code(param: ET.Element, links: str) -> bool:
    if param.get(f"{_FIELD}name") != "vnd.oasis.opendocument.field.code":
        return False
    return judge_instruction(param.get(f"{_FIELD}value", ""), links) is not None


def _with_parents(root: ET.Element) -> Iterator[tuple[ET.Element, ET.Element]]:
    stack = [root]
    while stack:
        parent = stack.pop()
        for child in parent:
            yield parent, child
            stack.append(child)


def _check_attributes(where: str, element: ET.Element, links: str, pictures: set[str] | None) -> None:
    if _XML_BASE in element.attrib:
        raise _failed(f"{where}: xml:base")
    href = element.get(_HREF)
    if href is not None:
        if element.tag in _PICTURES:
            if pictures is None or href not in pictures:
                raise _failed(f"{where}: a picture that is not a member: {href[:80]!r}")
        elif element.tag in _LINKS:
            if not keep_link(href, links, fragments=True):
                raise _failed(f"{where}: a link the rule refuses: {href[:80]!r}")
        elif element.tag != f"{_FORM}button" or not keep_link(href, links):
            raise _failed(f"{where}: a reference to {href[:80]!r}")
    if element.tag == f"{_XFORMS}instance" and "src" in element.attrib:
        raise _failed(f"{where}: form data fetched from {element.get('src', '')[:80]!r}")
    image = element.get(f"{_FORM}image-data")
    if image is not None and (pictures is None or image not in pictures):
        raise _failed(f"{where}: a control's picture that is not a member: {image[:80]!r}")
    if element.tag == f"{_FORM}form" and ({f"{_FORM}command", f"{_FORM}datasource"} & set(element.attrib)):
        raise _failed(f"{where}: a form bound to a database")
    url = element.get(f"{_TEXT}url")
    if url is not None and not keep_link(url, links):
        raise _failed(f"{where}: a bibliography link the rule refuses: {url[:80]!r}")
    for key in _FORMULAS & set(element.attrib):
        if reaches_outside(element.get(key, ""), links):
            raise _failed(f"{where}: a formula reaching outside: {element.get(key, '')[:80]!r}")
    if element.tag == _NAMED_RANGE and reaches_outside(element.get(f"{_TABLE}cell-range-address", ""), links):
        raise _failed(f"{where}: a named range in another document")


def _check_properties(where: str, meta: ET.Element, keep_metadata: bool) -> None:
    for child in meta:
        if child.tag in (f"{_META}template", f"{_META}auto-reload"):
            raise _failed(f"{where}: {child.tag.rpartition('}')[2]}")
        if not keep_metadata and child.tag not in _KEPT_PROPERTIES:
            raise _failed(
                f"{where}: the property {child.tag.rpartition('}')[2]} in a file whose rule removes metadata"
            )


def _check_settings(where: str, settings: ET.Element) -> None:
    """Only the configuration set, and in it only flags and numbers (and how to lay out)."""
    for item_set in settings:
        if item_set.get(f"{_CONFIG}name") != "ooo:configuration-settings":
            raise _failed(f"{where}: the settings {item_set.get(f'{_CONFIG}name', item_set.tag)!r}")
        for item in item_set:
            name, kind = item.get(f"{_CONFIG}name", ""), item.get(f"{_CONFIG}type", "")
            if (
                item.tag != f"{_CONFIG}config-item"
                or len(item)
                or (kind not in _SETTING_TYPES and name != "PrinterIndependentLayout")
                or name in ("LinkUpdateMode", "UpdateFromTemplate", "LoadReadonly")
            ):
                raise _failed(f"{where}: the setting {name or item.tag!r}")


def _check_inline_picture(where: str, parent: ET.Element, element: ET.Element) -> None:
    if parent.tag not in _PICTURES:
        raise _failed(f"{where}: inline data outside a picture")
    try:
        data = base64.b64decode(re.sub(r"\s+", "", element.text or ""), validate=True)
    except (binascii.Error, ValueError):
        raise _failed(f"{where}: inline picture data that is not base64") from None
    _check_picture(where, data)
