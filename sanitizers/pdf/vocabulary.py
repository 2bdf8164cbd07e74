"""The PDF vocabulary the sanitisers act on: what is removed, what is allowed.

Rebuild (``clean.py``) and verification (``verify.py``) both read these tables, but walk
the document with separate code, so a mistake in one walk is caught by the other.
Names are written without the leading slash; pikepdf returns them with it.
"""

from __future__ import annotations

#: Dictionary keys removed wherever they appear, and the construct each one carries.
REMOVED_KEYS: dict[str, str] = {
    "/AA": "pdf.additional_actions",
    "/JS": "pdf.javascript",
    "/JavaScript": "pdf.javascript",
    "/EmbeddedFiles": "pdf.embedded_file",
    "/EF": "pdf.embedded_file",
    "/RF": "pdf.embedded_file",
    "/AF": "pdf.embedded_file",
    "/Collection": "pdf.embedded_file",
    "/XFA": "pdf.xfa",
    "/NeedsRendering": "pdf.xfa",
    "/IDS": "pdf.web_capture",
    "/URLS": "pdf.web_capture",
    "/SpiderInfo": "pdf.web_capture",
    "/PieceInfo": "pdf.piece_info",
    "/RichMediaContent": "pdf.rich_media",
    "/RichMediaSettings": "pdf.rich_media",
    "/3DD": "pdf.3d",
    "/Renditions": "pdf.rendition",
    "/AlternatePresentations": "pdf.rendition",
    "/Templates": "pdf.javascript",  # only reachable from JavaScript (spawnPageFromTemplate)
}

#: Keys of a stream dictionary that point the reader at data outside the file.
EXTERNAL_STREAM_KEYS: frozenset[str] = frozenset({"/F", "/FFilter", "/FDecodeParms"})

#: Action types (value of /S) that are removed, and the construct each one is.
REMOVED_ACTIONS: dict[str, str] = {
    "/JavaScript": "pdf.javascript",
    "/Launch": "pdf.launch",
    "/GoToR": "pdf.remote_goto",
    "/GoToE": "pdf.embedded_goto",
    "/ImportData": "pdf.import_data",
    "/SubmitForm": "pdf.submit_form",
    "/ResetForm": "pdf.reset_form",
    "/Rendition": "pdf.rendition",
    "/Sound": "pdf.sound",
    "/Movie": "pdf.movie",
    "/RichMediaExecute": "pdf.rich_media",
    "/Hide": "pdf.hide",
    "/Trans": "pdf.transition_action",
    "/GoTo3DView": "pdf.3d",
    "/Thread": "pdf.thread",
    "/GoToDp": "pdf.remote_goto",
}

#: Action types that are kept (URI only for an allowed scheme, Named only for page moves).
ALLOWED_ACTIONS: frozenset[str] = frozenset({"/GoTo", "/URI", "/Named", "/SetOCGState"})

#: Named actions a viewer performs without side effects; others drive viewer menus.
ALLOWED_NAMED_ACTIONS: frozenset[str] = frozenset({"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"})

#: Every action type: a dictionary whose /S names one is an action, wherever it hangs.
KNOWN_ACTIONS: frozenset[str] = frozenset(REMOVED_ACTIONS.keys() | ALLOWED_ACTIONS)

#: Keys whose value is an action (or, for /OpenAction, a destination); /NA and /NP are
#: the next and previous actions of a presentation step (NavNode).
ACTION_KEYS: frozenset[str] = frozenset({"/A", "/OpenAction", "/PA", "/NA", "/NP"})

#: Keys whose whole danger is the actions they lead to, which are found by kind: where a
#: key is a name the author chose (a font called /AA), it is left alone.
ACTION_LEADING_KEYS: frozenset[str] = frozenset(
    ACTION_KEYS | {"/AA", "/JS", "/JavaScript", "/Next", "/Annots"}
)

#: Resource categories: their dictionaries map names the author chose to resources.
RESOURCE_CATEGORIES: frozenset[str] = frozenset(
    {"/Font", "/XObject", "/ExtGState", "/ColorSpace", "/Pattern", "/Shading", "/Properties"}
)
#: Keys of a resource dictionary.
RESOURCE_KEYS: frozenset[str] = frozenset(RESOURCE_CATEGORIES | {"/ProcSet"})

#: Annotation subtypes that are removed, and the construct each one is.
REMOVED_ANNOTATIONS: dict[str, str] = {
    "/FileAttachment": "pdf.embedded_file",
    "/Sound": "pdf.sound",
    "/Movie": "pdf.movie",
    "/Screen": "pdf.screen",
    "/RichMedia": "pdf.rich_media",
    "/3D": "pdf.3d",
}

#: Annotation subtypes that carry no active content of their own.
ALLOWED_ANNOTATIONS: frozenset[str] = frozenset(
    {
        "/Text",
        "/Link",
        "/FreeText",
        "/Line",
        "/Square",
        "/Circle",
        "/Polygon",
        "/PolyLine",
        "/Highlight",
        "/Underline",
        "/Squiggly",
        "/StrikeOut",
        "/Caret",
        "/Stamp",
        "/Ink",
        "/Popup",
        "/Widget",
        "/PrinterMark",
        "/TrapNet",
        "/Watermark",
        "/Redact",
        "/Projection",
    }
)

#: Annotations that are comments and nothing else: notes and their pop-up windows, text
#: boxes, and the review marks on text.  ``comments = "remove"`` removes them.
COMMENT_ANNOTATIONS: frozenset[str] = frozenset(
    {"/Text", "/Popup", "/FreeText", "/Highlight", "/Underline", "/Squiggly", "/StrikeOut", "/Caret"}
)
#: Markup annotations (ISO 32000-2, 12.5.6.2) and pop-ups: their /T is the author's name.
AUTHORED_ANNOTATIONS: frozenset[str] = COMMENT_ANNOTATIONS | {
    "/Line", "/Square", "/Circle", "/Polygon", "/PolyLine", "/Ink", "/Stamp", "/Redact", "/Projection",
}  # fmt: skip
#: What makes a drawn mark a comment too: the text its pop-up shows (plain, rich) and the
#: pop-up.  ``comments = "remove"`` removes them; the mark stays.
COMMENT_KEYS: frozenset[str] = frozenset({"/Contents", "/RC", "/Popup"})
#: Who wrote an authored annotation and when.  ``metadata = "remove"`` removes them.
AUTHOR_KEYS: frozenset[str] = frozenset({"/T", "/M", "/CreationDate"})

#: Catalog entries kept; any other entry is removed.
ALLOWED_CATALOG_KEYS: frozenset[str] = frozenset(
    {
        "/Type",
        "/Version",
        "/Extensions",
        "/Pages",
        "/PageLabels",
        "/Names",
        "/Dests",
        "/ViewerPreferences",
        "/PageLayout",
        "/PageMode",
        "/Outlines",
        "/Threads",
        "/OpenAction",
        "/AcroForm",
        "/Metadata",
        "/StructTreeRoot",
        "/MarkInfo",
        "/Lang",
        "/OCProperties",
        "/OutputIntents",
    }
)

#: Entries of the catalog's /Names dictionary that are kept.
ALLOWED_NAME_TREES: frozenset[str] = frozenset({"/Dests", "/AP"})

#: Trailer entries kept; qpdf writes /Size and /ID itself.  /Info is kept only with metadata.
ALLOWED_TRAILER_KEYS: frozenset[str] = frozenset({"/Root", "/Size", "/ID", "/Encrypt"})

#: Document information entries kept when metadata is kept (plain strings only).
ALLOWED_INFO_KEYS: frozenset[str] = frozenset(
    {
        "/Title",
        "/Author",
        "/Subject",
        "/Keywords",
        "/Creator",
        "/Producer",
        "/CreationDate",
        "/ModDate",
    }
)

#: URI schemes kept by ``links = "keep-web"``; anything else (file:, UNC, javascript:) goes.
#: Names that must not appear in the decoded bytes of any syntax stream of the output.
FORBIDDEN_STREAM_NAMES: frozenset[bytes] = frozenset(
    name[1:].encode()
    for name in (
        "/JavaScript",
        "/JS",
        "/AA",
        "/Launch",
        "/GoToR",
        "/GoToE",
        "/ImportData",
        "/SubmitForm",
        "/ResetForm",
        "/RichMediaExecute",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/XFA",
        "/Encrypt",
    )
)
