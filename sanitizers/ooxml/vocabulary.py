"""What an OOXML rebuild keeps: relationship types, content types and namespaces.

The package is walked along its relationships; a part survives only when the
relationship that reaches it has a type listed in :data:`KEPT_RELATIONSHIPS` and the part's
declared content type is one that relationship may carry.  Everything else is dropped and
reported under the construct :data:`DROPPED_RELATIONSHIPS` names for its type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Relationship type prefixes (ECMA-376 transitional and Microsoft extensions).
_OD = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships/"
_MS06 = "http://schemas.microsoft.com/office/2006/relationships/"
_MS07 = "http://schemas.microsoft.com/office/2007/relationships/"
_MS11 = "http://schemas.microsoft.com/office/2011/relationships/"

# Content type prefixes.
_DOC = "application/vnd.openxmlformats-officedocument."
_WML = _DOC + "wordprocessingml."
_SML = _DOC + "spreadsheetml."
_PML = _DOC + "presentationml."
_DML = _DOC + "drawingml."

OFFICE_DOCUMENT = _OD + "officeDocument"
HYPERLINK = _OD + "hyperlink"

RELATIONSHIPS_CONTENT_TYPE = "application/vnd.openxmlformats-package.relationships+xml"
CORE_PROPERTIES_CONTENT_TYPE = "application/vnd.openxmlformats-package.core-properties+xml"
APP_PROPERTIES_CONTENT_TYPE = _DOC + "extended-properties+xml"
CUSTOM_PROPERTIES_CONTENT_TYPE = _DOC + "custom-properties+xml"
VML_DRAWING_CONTENT_TYPE = _DOC + "vmldrawing"


@dataclass(frozen=True)
class Family:
    """One Office application: its output type and main-part content types."""

    output_type: str
    #: main content types that are written unchanged
    plain: frozenset[str]
    #: macro-enabled main content types → the plain document type they become
    macro_enabled: frozenset[str]
    plain_main: str


WORD = Family(
    "docx",
    frozenset({_WML + "document.main+xml", _WML + "template.main+xml"}),
    frozenset(
        {
            "application/vnd.ms-word.document.macroenabled.main+xml",
            "application/vnd.ms-word.template.macroenabledtemplate.main+xml",
        }
    ),
    _WML + "document.main+xml",
)
EXCEL = Family(
    "xlsx",
    frozenset({_SML + "sheet.main+xml", _SML + "template.main+xml"}),
    frozenset(
        {
            "application/vnd.ms-excel.sheet.macroenabled.main+xml",
            "application/vnd.ms-excel.template.macroenabled.main+xml",
        }
    ),
    _SML + "sheet.main+xml",
)
POWERPOINT = Family(
    "pptx",
    frozenset(
        {
            _PML + "presentation.main+xml",
            _PML + "slideshow.main+xml",
            _PML + "template.main+xml",
        }
    ),
    frozenset(
        {
            "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml",
            "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml",
            "application/vnd.ms-powerpoint.template.macroenabled.main+xml",
        }
    ),
    _PML + "presentation.main+xml",
)
FAMILIES: tuple[Family, ...] = (WORD, EXCEL, POWERPOINT)
XLSB_MAIN = "application/vnd.ms-excel.sheet.binary.macroenabled.main"

IMAGE_CONTENT_TYPES: frozenset[str] = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/jpg",
        "image/pjpeg",
        "image/gif",
        "image/bmp",
        "image/tiff",
        "image/x-emf",
        "image/emf",
        "image/x-wmf",
        "image/wmf",
        "image/vnd.ms-photo",
    }
)


Leaf = Literal["image", "font"]
#: Word's embedded font: a TrueType or OpenType font whose first 32 bytes are XORed with a key
OBFUSCATED_FONT_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.obfuscatedfont"


@dataclass(frozen=True)
class Kept:
    """A relationship type that may stay and the content types its target may have.

    A metadata part is kept only with ``metadata = "keep"``, a comments part only with
    ``comments = "keep"``; ``metadata`` and ``comments`` name the construct the part is
    reported as when it goes for that option.
    """

    content_types: frozenset[str]
    metadata: str | None = None
    comments: str | None = None
    #: a binary part rebuilt by its own parser and never walked further: "image" (the image
    #: sanitiser, or the metafile rebuild) or "font" (the OpenType Sanitizer)
    leaf: Leaf | None = None


def _kept(*content_types: str, metadata: str | None = None, comments: str | None = None) -> Kept:
    # content types compare case-insensitively (RFC 2045); the tables hold lower case
    return Kept(frozenset(ct.lower() for ct in content_types), metadata, comments)


_IMAGES = Kept(IMAGE_CONTENT_TYPES, leaf="image")
_COMMENTS = "ooxml.comments"
_COMMENT_AUTHORS = "ooxml.comment_author"

#: Relationship type → what it may point at.  The main document (officeDocument) and
#: hyperlinks are judged separately.
KEPT_RELATIONSHIPS: dict[str, Kept] = {
    # package level
    _PKG + "metadata/core-properties": _kept(CORE_PROPERTIES_CONTENT_TYPE),
    _OD + "extended-properties": _kept(APP_PROPERTIES_CONTENT_TYPE),
    _OD + "custom-properties": _kept(CUSTOM_PROPERTIES_CONTENT_TYPE, metadata="ooxml.document_properties"),
    _PKG + "metadata/thumbnail": Kept(IMAGE_CONTENT_TYPES, metadata="ooxml.thumbnail", leaf="image"),
    # shared by all three applications
    _OD + "theme": _kept(_DOC + "theme+xml"),
    _OD + "themeOverride": _kept(_DOC + "themeOverride+xml"),
    _OD + "image": _IMAGES,
    _MS07 + "hdphoto": _IMAGES,
    _OD + "chart": _kept(_DML + "chart+xml"),
    _OD + "chartUserShapes": _kept(_DML + "chartshapes+xml"),
    _MS11 + "chartStyle": _kept("application/vnd.ms-office.chartstyle+xml"),
    _MS11 + "chartColorStyle": _kept("application/vnd.ms-office.chartcolorstyle+xml"),
    _OD + "diagramData": _kept(_DML + "diagramData+xml"),
    _OD + "diagramLayout": _kept(_DML + "diagramLayout+xml"),
    _OD + "diagramQuickStyle": _kept(_DML + "diagramStyle+xml"),
    _OD + "diagramColors": _kept(_DML + "diagramColors+xml"),
    _MS07 + "diagramDrawing": _kept("application/vnd.ms-office.drawingml.diagramDrawing+xml"),
    _OD + "vmlDrawing": _kept(VML_DRAWING_CONTENT_TYPE),
    # Word
    _OD + "styles": _kept(_WML + "styles+xml", _SML + "styles+xml"),
    _MS07 + "stylesWithEffects": _kept("application/vnd.ms-word.stylesWithEffects+xml"),
    _OD + "settings": _kept(_WML + "settings+xml"),
    _OD + "webSettings": _kept(_WML + "webSettings+xml"),
    _OD + "fontTable": _kept(_WML + "fontTable+xml"),
    _OD + "font": Kept(frozenset({OBFUSCATED_FONT_CONTENT_TYPE}), leaf="font"),
    _OD + "numbering": _kept(_WML + "numbering+xml"),
    _OD + "footnotes": _kept(_WML + "footnotes+xml"),
    _OD + "endnotes": _kept(_WML + "endnotes+xml"),
    _OD + "header": _kept(_WML + "header+xml"),
    _OD + "footer": _kept(_WML + "footer+xml"),
    _OD + "comments": _kept(
        _WML + "comments+xml", _SML + "comments+xml", _PML + "comments+xml", comments=_COMMENTS
    ),
    _MS11 + "commentsExtended": _kept(_WML + "commentsExtended+xml", comments=_COMMENTS),
    "http://schemas.microsoft.com/office/2016/09/relationships/commentsIds": _kept(
        _WML + "commentsIds+xml", comments=_COMMENTS
    ),
    "http://schemas.microsoft.com/office/2018/08/relationships/commentsExtensible": _kept(
        _WML + "commentsExtensible+xml", comments=_COMMENTS
    ),
    # who wrote the comments, with their account ids (presenceInfo): nothing Word needs
    _MS11 + "people": _kept(_WML + "people+xml", metadata=_COMMENT_AUTHORS, comments=_COMMENTS),
    # Excel
    _OD + "worksheet": _kept(_SML + "worksheet+xml"),
    _OD + "chartsheet": _kept(_SML + "chartsheet+xml"),
    _OD + "sharedStrings": _kept(_SML + "sharedStrings+xml"),
    _OD + "drawing": _kept(_DOC + "drawing+xml"),
    _OD + "table": _kept(_SML + "table+xml"),
    _OD + "sheetMetadata": _kept(_SML + "sheetMetadata+xml"),
    # PowerPoint
    _OD + "slide": _kept(_PML + "slide+xml"),
    _OD + "slideLayout": _kept(_PML + "slideLayout+xml"),
    _OD + "slideMaster": _kept(_PML + "slideMaster+xml"),
    _OD + "notesSlide": _kept(_PML + "notesSlide+xml"),
    _OD + "notesMaster": _kept(_PML + "notesMaster+xml"),
    _OD + "handoutMaster": _kept(_PML + "handoutMaster+xml"),
    _OD + "presProps": _kept(_PML + "presProps+xml"),
    _OD + "viewProps": _kept(_PML + "viewProps+xml"),
    _OD + "tableStyles": _kept(_PML + "tableStyles+xml"),
    # PowerPoint's comments name their author by an id in this list: it stays with them
    _OD + "commentAuthors": _kept(_PML + "commentAuthors+xml", comments=_COMMENTS),
}

#: Relationship types that are dropped on purpose, with the construct they are reported
#: as.  Types in neither table are dropped as ``ooxml.unknown_part``.
DROPPED_RELATIONSHIPS: dict[str, str] = {
    _MS06 + "vbaProject": "ooxml.vba_project",
    _MS06 + "wordVbaData": "ooxml.vba_project",
    _MS06 + "vbaProjectSignature": "ooxml.vba_project",
    "http://schemas.microsoft.com/office/2014/relationships/vbaProjectSignatureAgile": "ooxml.vba_project",
    "http://schemas.microsoft.com/office/2020/07/relationships/vbaProjectSignatureV3": "ooxml.vba_project",
    _MS06 + "keyMapCustomizations": "ooxml.vba_project",
    _MS06 + "attachedToolbars": "ooxml.vba_project",
    _MS06 + "xlMacrosheet": "ooxml.xlm_macrosheet",
    _MS06 + "xlIntlMacrosheet": "ooxml.xlm_macrosheet",
    _OD + "dialogsheet": "ooxml.xlm_macrosheet",
    _OD + "control": "ooxml.activex",
    _MS06 + "activeXControlBinary": "ooxml.activex",
    _OD + "ctrlProp": "ooxml.form_control",
    _OD + "oleObject": "ooxml.embedded_object",
    _OD + "package": "ooxml.embedded_object",
    _OD + "aFChunk": "ooxml.alt_chunk",
    _OD + "subDocument": "ooxml.sub_document",
    _OD + "attachedTemplate": "ooxml.attached_template",
    _OD + "mailMergeSource": "ooxml.mail_merge",
    _OD + "mailMergeHeaderSource": "ooxml.mail_merge",
    _OD + "recipientData": "ooxml.mail_merge",
    _OD + "frame": "ooxml.frame",
    _OD + "externalLink": "ooxml.external_link",
    _OD + "externalLinkPath": "ooxml.external_link",
    _OD + "connections": "ooxml.data_connection",
    _OD + "queryTable": "ooxml.data_connection",
    _OD + "pivotCacheDefinition": "ooxml.pivot_cache",
    _OD + "pivotTable": "ooxml.pivot_cache",
    _OD + "volatileDependencies": "ooxml.data_connection",
    _MS06 + "ui/extensibility": "ooxml.custom_ui",
    _MS07 + "ui/extensibility": "ooxml.custom_ui",
    "http://schemas.microsoft.com/office/2011/relationships/webextensiontaskpanes": "ooxml.web_extension",
    "http://schemas.microsoft.com/office/2011/relationships/webextension": "ooxml.web_extension",
    _OD + "customXml": "ooxml.custom_xml",
    _OD + "xmlMaps": "ooxml.custom_xml",
    _OD + "audio": "ooxml.media",
    _OD + "video": "ooxml.media",
    _MS07 + "media": "ooxml.media",
    _PKG + "digital-signature/origin": "ooxml.signature",
    _OD + "printerSettings": "ooxml.printer_settings",
    _OD + "calcChain": "ooxml.calc_chain",
    _OD + "glossaryDocument": "ooxml.glossary",
    _OD + "tags": "ooxml.tags",
}

#: Reported construct for a kept-type relationship that points outside the package.
EXTERNAL_CONSTRUCT = "ooxml.external_relationship"

# XML namespaces the cleaners look at.
NS_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
NS_X = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
NS_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
NS_V = "urn:schemas-microsoft-com:vml"
NS_O = "urn:schemas-microsoft-com:office:office"
NS_XL_VML = "urn:schemas-microsoft-com:office:excel"
NS_X15AC = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
NS_APP = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"

OLE_GRAPHIC_DATA = "http://schemas.openxmlformats.org/presentationml/2006/ole"

#: PowerPoint click/hover actions that only move within the presentation.
SAFE_ACTIONS: frozenset[str] = frozenset(
    {
        "ppaction://hlinkshowjump",
        "ppaction://hlinksldjump",
        "ppaction://noaction",
        "ppaction://customshow",
    }
)
