"""Independent re-check of a rebuilt package, from its bytes alone.

Nothing here trusts the rebuild's plan: the output ZIP is reopened, its content types,
relationships and XML parts re-parsed, and searched for every construct the rebuild
promises to remove.  Any hit is a bug in the rebuild and stops the file
(``ooxml.verify_failed``).
"""

from __future__ import annotations

import io
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from urllib.parse import unquote

from sanitizers.base import Limits
from sanitizers.errors import SanitizeError, VerifyError
from sanitizers.fields import judge_instruction
from sanitizers.images.metafile import is_metafile, rebuild_metafile
from sanitizers.images.rebuild import picture_type, verify_image
from sanitizers.images.scan import ICC_PROFILE, scan_structure
from sanitizers.links import KEEP_WEB, REMOVE, is_web_link
from sanitizers.ooxml.fonts import font_keys, is_tight_sfnt, toggle_obfuscation
from sanitizers.ooxml.formulas import reaches_outside
from sanitizers.ooxml.strict import STRICT_PREFIX
from sanitizers.ooxml.vocabulary import OBFUSCATED_FONT_CONTENT_TYPE

_FORBIDDEN_NAMES = re.compile(
    r"vbaproject|vbadata|(^|/)(activex|embeddings|macrosheets|externallinks|webextensions?|customui|"
    r"printersettings)/|(^|/)connections\.xml$|\.(bin|exe|dll|ocx)$",
    re.IGNORECASE,
)
_FORBIDDEN_CONTENT_TYPES = re.compile(
    r"macroenabled|vbaproject|vbadata|activex|oleobject|macrosheet|externallink|connections",
    re.IGNORECASE,
)
#: What a written part may be: markup or a picture, never a binary of another kind.
_WRITTEN_CONTENT_TYPES = re.compile(
    r"(image/[\w.+-]+|application/xml|[\w./-]+\+xml|application/vnd\.openxmlformats-officedocument\."
    r"(vmldrawing|obfuscatedfont))\Z",
    re.IGNORECASE,
)
_FORBIDDEN_RELATIONSHIPS = re.compile(
    r"/(vbaProject|wordVbaData|vbaProjectSignature\w*|xlMacrosheet|xlIntlMacrosheet|dialogsheet|control|"
    r"activeXControlBinary|oleObject|package|aFChunk|subDocument|attachedTemplate|externalLink\w*|"
    r"connections|queryTable|frame|mailMergeSource|recipientData|extensibility|webextension\w*|"
    r"customXml|xmlMaps|keyMapCustomizations)$"
)
_TAGGED_RASTERS = frozenset({"tiff", "bmp"})
_HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
#: Content types of comments, their extensions, authors and threads, in all three applications.
_COMMENT_CONTENT_TYPES = re.compile(
    r"[.-](comments|commentsextended|commentsids|commentsextensible|people|commentauthors|"
    r"threadedcomments|person|authors)\+xml\Z",
    re.IGNORECASE,
)
#: Local names of elements that must not survive, in any namespace.
_FORBIDDEN_ELEMENTS = frozenset(
    {
        "altChunk",
        "subDoc",
        "OLEObject",
        "oleObject",
        "oleObjects",
        "oleObj",
        "oleLink",
        "ddeLink",
        "externalReference",
        "externalReferences",
        "FmlaMacro",
        "attachedTemplate",
        "entryMacro",
        "exitMacro",
        "objectEmbed",
        "objectLink",
        "webPublishItems",
        "webPublishItem",
        "webPublishObjects",
        "webPublishObject",
    }
)
_X = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
#: Every element whose text is an Excel formula, in sheets, tables, workbooks and charts.
_FORMULAS = frozenset(
    {
        *(
            f"{_X}{local}"
            for local in (
                "f",
                "formula",
                "formula1",
                "formula2",
                "calculatedColumnFormula",
                "totalsRowFormula",
                "definedName",
            )
        ),
        "{http://schemas.microsoft.com/office/excel/2006/main}f",
        "{http://schemas.openxmlformats.org/drawingml/2006/chart}f",
        "{http://schemas.microsoft.com/office/drawing/2012/chart}f",
    }
)
_CONTROL_NAMESPACES = frozenset(
    {
        "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "http://schemas.openxmlformats.org/presentationml/2006/main",
    }
)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_RELATIONSHIPS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
#: A namespace declaration naming ISO/IEC 29500 Strict: the rebuild writes transitional only.
_STRICT_DECLARATION = re.compile(rb"""xmlns(?::[\w.-]+)?\s*=\s*["']""" + re.escape(STRICT_PREFIX.encode()))


def verify_package(data: bytes, keep_web_links: bool, keep_comments: bool = True) -> None:
    """Raise ``ooxml.verify_failed`` unless the package holds nothing it must not."""
    links = KEEP_WEB if keep_web_links else REMOVE
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if len(set(names)) != len(names) or archive.testzip() is not None:
                raise _failed("duplicate or corrupt members")
            for name in names:
                if _FORBIDDEN_NAMES.search(name):
                    raise _failed(f"forbidden part {name!r}")
            content_types = _check_content_types(_parse(archive.read("[Content_Types].xml"), "content types"))
            if not keep_comments:
                _check_no_comments(content_types)
            fonts: dict[str, bytes] = {}
            keys: list[bytes] = []
            for name in names:
                content_type = content_types.get(name, "")
                if name.endswith(".rels"):
                    _check_relationships(name, _parse(archive.read(name), name), set(names), keep_web_links)
                elif content_type.startswith("image/"):
                    check_picture(name, archive.read(name))
                elif content_type == OBFUSCATED_FONT_CONTENT_TYPE:
                    fonts[name] = archive.read(name)
                elif name != "[Content_Types].xml":
                    root = _parse(archive.read(name), name)
                    _check_markup(name, root, links)
                    keys += font_keys(root).values()
            for name, font in fonts.items():
                if not any(is_tight_sfnt(toggle_obfuscation(font, key)) for key in keys):
                    raise _failed(f"{name}: not a font as OTS writes one under any key of the font table")
    except (zipfile.BadZipFile, KeyError) as exc:
        raise _failed(f"the package does not reopen: {exc}") from None
    except SanitizeError as exc:  # a picture's scan or rebuild refused what the rebuild wrote
        raise _failed(f"a written picture does not read back: {exc}") from None


def check_picture(name: str, data: bytes) -> None:
    """A picture as the rebuild writes one: a raster image with nothing but pixels and a
    colour profile, ending where its format ends, or a metafile its rebuild leaves as it is."""
    image_type = picture_type(data)
    if image_type in _TAGGED_RASTERS:  # their metadata is in tags a decoder reads
        verify_image(data, image_type, icc_allowed=True, limits=Limits())
    elif image_type is not None:
        scan = scan_structure(image_type, data)
        if (
            scan.damage is not None
            or set(scan.constructs) - {ICC_PROFILE}
            or scan.end not in (None, len(data))
        ):
            raise _failed(f"{name}: a picture with {sorted(scan.constructs) or 'data after its end'}")
    elif not is_metafile(data) or rebuild_metafile(data).data != data:
        raise _failed(f"{name}: not a picture as the rebuild writes one")


def _failed(why: str) -> VerifyError:
    return VerifyError("ooxml.verify_failed", why)


def _parse(data: bytes, where: str) -> ET.Element:
    """Parse a part the rebuild wrote: UTF-8, so a declaration would show in the bytes."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _failed(f"{where} declares a DTD or entities")
    if _STRICT_DECLARATION.search(data):
        raise _failed(f"{where} declares an ISO/IEC 29500 Strict namespace")
    try:
        # ElementTree's C parser fetches nothing external; with no DTD there is nothing to expand
        return ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise _failed(f"{where} does not parse: {exc}") from None


def _check_no_comments(content_types: dict[str, str]) -> None:
    """``comments = "remove"``: no part of a comment kind is declared (and a relationship to
    one that is not there fails the relationship check)."""
    for name, content_type in content_types.items():
        if _COMMENT_CONTENT_TYPES.search(content_type):
            raise _failed(f"a comments part {name!r} ({content_type})")


def _check_content_types(root: ET.Element) -> dict[str, str]:
    declared: dict[str, str] = {}
    for element in root:
        content_type = element.get("ContentType", "")
        if _FORBIDDEN_CONTENT_TYPES.search(content_type) or not _WRITTEN_CONTENT_TYPES.match(content_type):
            raise _failed(f"forbidden content type {content_type!r}")
        if element.tag == f"{_CONTENT_TYPES_NS}Override":
            declared[unquote(element.get("PartName", "")).lstrip("/")] = content_type.lower()
    return declared


def _check_relationships(name: str, root: ET.Element, names: set[str], keep_web_links: bool) -> None:
    folder = posixpath.dirname(posixpath.dirname(name))  # "word/_rels/x.rels" → "word"
    for relationship in root.iter(f"{_RELATIONSHIPS_NS}Relationship"):
        rel_type, target = relationship.get("Type", ""), relationship.get("Target", "")
        if rel_type.startswith(STRICT_PREFIX):
            raise _failed(f"{name}: relationship type {rel_type!r} in Strict spelling")
        if _FORBIDDEN_RELATIONSHIPS.search(rel_type):
            raise _failed(f"{name}: forbidden relationship {rel_type!r}")
        if relationship.get("TargetMode") == "External":
            if rel_type != _HYPERLINK or not keep_web_links or not is_web_link(target):
                raise _failed(f"{name}: external relationship {rel_type!r} to {target[:80]!r}")
        elif posixpath.normpath(posixpath.join(folder, unquote(target))) not in names:
            raise _failed(f"{name}: target {target[:80]!r} is not in the package")


def _check_markup(name: str, root: ET.Element, links: str) -> None:
    field_stack: list[list[str]] = []
    for element in root.iter():
        namespace, _, local = element.tag[1:].partition("}") if element.tag.startswith("{") else ("", "", "")
        if namespace.startswith(STRICT_PREFIX) or any(
            key.startswith("{" + STRICT_PREFIX) or value.startswith(STRICT_PREFIX)
            for key, value in element.attrib.items()
        ):
            raise _failed(f"{name}: {local or element.tag!r} in an ISO/IEC 29500 Strict namespace")
        if local in _FORBIDDEN_ELEMENTS or (
            local in ("control", "controls") and namespace in _CONTROL_NAMESPACES
        ):
            raise _failed(f"{name}: forbidden element {local!r}")
        if element.tag in _FORMULAS and element.text and reaches_outside(element.text, links):
            raise _failed(f"{name}: a formula reaching outside the workbook: {element.text[:80]!r}")
        if element.tag == f"{_W}fldSimple":
            _check_field(name, element.get(f"{_W}instr", ""), links)
        elif element.tag == f"{_W}fldChar":
            kind = element.get(f"{_W}fldCharType")
            if kind == "begin":
                field_stack.append([])
            elif kind in ("separate", "end") and field_stack:
                _check_field(name, "".join(field_stack[-1]), links)
                if kind == "end":
                    field_stack.pop()
        elif element.tag in (f"{_W}instrText", f"{_W}delInstrText"):
            if field_stack:
                field_stack[-1].append(element.text or "")
            else:
                _check_field(name, element.text or "", links)
    for unclosed in field_stack:
        _check_field(name, "".join(unclosed), links)


def _check_field(name: str, instruction: str, links: str) -> None:
    """The rebuild's own field parser and policy (sanitizers.fields), judged again."""
    why = judge_instruction(instruction, links)
    if why is not None:
        raise _failed(f"{name}: a field of kind {why} remains: {instruction.strip()[:80]!r}")
