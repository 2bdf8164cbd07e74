r"""What happens to each group: kept, dropped, or replaced by the rendered result it carries.

A group is judged by the control words written directly in it, wherever they stand (Word
switches destination on a destination word anywhere in the group, which is how
obfuscated objects hide behind other words), and by the names after its ``\*`` symbols.
A kept group's children are judged in turn; a dropped group goes with everything inside
it, ``\bin`` payloads included.  The first rule that matches decides:

==============================  =======================================================
the group carries directly      fate (finding)
==============================  =======================================================
``\object`` ``\objemb``         dropped (``rtf.object``); its ``{\result ...}`` child,
``\objlink`` ``\objautlink``    the rendering readers show in the object's place, is
``\objocx`` ``\objhtml``        kept as a plain group when it passes these rules itself
``\objclass``, every other
``\obj*`` word
``\objdata`` alone              dropped (``rtf.objdata``)
``\template``                   dropped (``rtf.template``): a path or URL Word fetches
``\datastore`` ``\themedata``   dropped (``rtf.destination``), with or without ``\*``:
``\colorschememapping``         OLE storage, a zipped OOXML part, raw HTML, font
``\htmltag`` ``\mhtmltag``      programs, mail-merge connection strings, form-field
``\fontemb`` ``\fontfile``      macros, a base URL for links, custom XML, and the WMF
``\mailmerge`` ``\formfield``   copy of a picture
``\datafield`` ``\xmlopen``
``\nonshppict`` ``\hlinkbase``
``\bin``                        dropped (``rtf.bin``, counted per ``\bin``): pictures are
                                written in hex; raw bytes are how objects hide
``\*\annotation``               dropped with ``comments = "remove"`` (``rtf.comment``,
``\*\atnid`` ``\*\atnauthor``   location = the word), with or without ``\*``; the
``\*\atndate`` ``\*\atnref``    ``\chatn`` marks anchoring them in the text are cut
``\*\atnparent`` ``\*\atnicn``  from the groups they stand in
``\*\atntime``
``\*\atrfstart``
``\*\atrfend``
``\*`` + a name not kept below  dropped (``rtf.destination``, location = the name)
``\pict``                       kept only for ``\pngblip`` or ``\jpegblip`` alone, with
                                hex digits only that decode to a PNG or JPEG signature,
                                and ``pictures = "png-jpeg"``; WMF, EMF, PICT, DIB, OS/2
                                metafiles and anything unclear are dropped
                                (``rtf.picture``, location = the picture type).  A
                                kept picture's data is rebuilt from its pixels
                                (``pictures.py``), or dropped when it does not decode
``{\sn ...}`` child naming      dropped (``rtf.linked_picture``, location = the
``pibName`` ``pibFlags``        name): a linked picture's path or URL, or the flags
``fillBlipName`` ... (the       that make a reader fetch it; the embedded ``\pict``
linking shape properties)       of a shape is a sibling property and stays
``\field``                      dropped when its instruction (``\fldinst``, read by
                                ``sanitizers.fields``) is DDE or DDEAUTO
                                (``rtf.dde_field``); fetches or runs something
                                (INCLUDE*, IMPORT, LINK, DATABASE, RD, EMBED,
                                MACROBUTTON, ...) or cannot be read
                                (``rtf.external_field``); or is a HYPERLINK whose
                                target the ``links`` option refuses
                                (``rtf.hyperlink``); its ``{\fldrslt ...}`` is kept
                                as a plain group.  PAGE, REF, SEQ, TOC, FORMTEXT ...
                                stay
``\fldinst`` outside a field    dropped on the same instructions
anything else                   kept, and its children judged
==============================  =======================================================

Ignorable (``\*``) destinations kept, because layout or Japanese text needs them:

==================================  ====================================================
``\*\panose`` ``\*\fname``          font matching (Japanese font alternates)
``\*\falt``
``\*\ud`` (in ``\upr``)             the Unicode text of a paragraph: ``\upr`` pairs keep
                                    their Japanese
``\*\fchars`` ``\*\lchars``         kinsoku: characters a line may not start or end with
``\*\cs`` ``\*\ts`` ``\*\defchp``   character and table styles, defaults
``\*\defpap`` ``\*\latentstyles``
``\*\listtable`` ``\*\pn``          numbered and bulleted lists
``\*\listoverridetable``
``\*\listpicture`` ``\*\pnseclvl``
``\*\liststylename``
``\*\shppict``                      holds the picture (the ``\pict`` rule applies inside)
``\*\picprop`` ``\*\blipuid``       picture layout and identity
``\*\shpinst`` ``\*\background``    shapes, text boxes (their text lives here), page
                                    background
``\*\bkmkstart`` ``\*\bkmkend``     bookmarks (cross references need them)
``\*\fldinst``                      field instructions (judged as above)
``\*\nesttableprops``               nested tables
``\*\ftnsep`` ``\*\ftnsepc``        footnote separators
``\*\aftnsep`` ``\*\aftnsepc``
``\*\annotation`` ``\*\atnid``      comments (``comments = "keep"``, the default)
``\*\atnauthor`` ``\*\atndate``
``\*\atnref`` ``\*\atnparent``
``\*\atrfstart`` ``\*\atrfend``
``\*\mmathPr``                      equation settings (an equation itself is kept as
                                    its picture)
``\*\generator`` ``\*\rsidtbl``     writer name, revision-save ids, settings
``\*\revtbl`` ``\*\wgrffmtfilter``
``\*\saveprevpict`` ``\*\company``
``\*\keycode``
``\*\pgdsctbl`` ``\*\pgdscno``      LibreOffice page styles and hyphenation
``\*\headeryb`` ``\*\hyphen``
==================================  ====================================================

Every other ``\*`` destination is dropped, among them what Word writes that nobody needs
to read the text: ``\*\xmlnstbl``, ``\*\themedata``, ``\*\colorschememapping``,
``\*\datastore``, ``\*\nonshppict``, ``\*\htmltag``, ``\*\template``, ``\*\mmath``,
``\*\do`` and ``\*\formfield``.

Other shape properties (``{\sp{\sn ...}{\sv ...}}`` in a kept ``\*\shpinst`` or
``\*\picprop``) stay: layout, colours, the embedded picture.
"""

from __future__ import annotations

from dataclasses import dataclass

from sanitizers.links import KEEP_WEB
from sanitizers.rtf.fields import group_text, refused_instruction
from sanitizers.rtf.tokens import Kind
from sanitizers.rtf.tree import Group, direct_tokens

#: Every control word of an object starts so (\object, \objemb, \objw ...), and none else.
OBJECT_PREFIX = "obj"
DENIED_DESTINATIONS = frozenset(
    {
        "datastore", "themedata", "colorschememapping", "htmltag", "mhtmltag", "fontemb", "fontfile",
        "mailmerge", "formfield", "datafield", "xmlopen", "nonshppict", "hlinkbase",
    }
)  # fmt: skip
KEPT_IGNORABLE = frozenset(
    {
        "panose", "fname", "falt", "ud", "fchars", "lchars", "cs", "ts", "defchp", "defpap",
        "latentstyles", "listtable", "listoverridetable", "listpicture", "pn", "pnseclvl",
        "liststylename", "shppict", "picprop", "blipuid", "shpinst", "background", "bkmkstart",
        "bkmkend", "fldinst", "nesttableprops", "ftnsep", "ftnsepc", "aftnsep", "aftnsepc",
        "annotation", "atnid", "atnauthor", "atndate", "atnref", "atnparent", "atrfstart",
        "atrfend", "mmathPr", "generator", "rsidtbl", "revtbl", "wgrffmtfilter", "saveprevpict",
        "company", "keycode", "pgdsctbl", "pgdscno", "headeryb", "hyphen",
    }
)  # fmt: skip
#: Words that name what a \pict holds; only the first two are ever kept.
KEPT_BLIPS = frozenset({"pngblip", "jpegblip"})
BLIP_WORDS = KEPT_BLIPS | {"emfblip", "wmetafile", "macpict", "pmmetafile", "dibitmap", "wbitmap"}
_SIGNATURES = {"pngblip": b"\x89PNG\r\n\x1a\n", "jpegblip": b"\xff\xd8\xff"}
_HEX_AND_SPACE = b"0123456789abcdefABCDEF \t\r\n"
PICTURE_OPTIONS = ("png-jpeg", "none")
COMMENT_OPTIONS = ("keep", "remove")
KEEP_COMMENTS = COMMENT_OPTIONS[0]
#: The destinations of a comment (Word also reads them without ``\*``): its text, author,
#: initials, date, the range it covers and its place in a thread.
ANNOTATION_WORDS = frozenset(
    {"annotation", "atnid", "atnauthor", "atndate", "atnref", "atnparent", "atrfstart", "atrfend",
     "atnicn", "atntime"}
)  # fmt: skip
#: The character that anchors a comment in the text.
ANNOTATION_MARK = "chatn"
#: Shape properties (lower case) that make a reader load a picture from a path or URL:
#: the linked file's name and the flags that say "linked" (MS-ODRAW pibName, pibFlags,
#: their print variants, and the blip name and flags of fills and line fills).
LINKING_SHAPE_PROPERTIES = frozenset(
    {
        "pibname", "pibflags", "pibprintname", "pibprintflags", "fillblipname", "fillblipflags",
        "linefillblipname", "linefillblipflags", "fillbackblipname", "fillbackblipflags",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """``keep``; ``drop`` with a finding; or ``hoist``: drop, but keep ``inner``'s content."""

    action: str  # "keep" | "drop" | "hoist"
    construct: str = ""
    location: str | None = None
    inner: Group | None = None


KEEP = Verdict("keep")


def judge(
    group: Group, data: bytes, pictures: str, links: str = KEEP_WEB, comments: str = KEEP_COMMENTS
) -> Verdict:
    """The fate of ``group`` by the table in the module docstring."""
    words = group.words
    object_words = [word for word in words if word.startswith(OBJECT_PREFIX)]
    if object_words == ["objdata"]:
        return Verdict("drop", "rtf.objdata")
    if object_words:
        return _object_verdict(group, data, pictures, links, comments)
    if "template" in words:
        return Verdict("drop", "rtf.template")
    denied = sorted(DENIED_DESTINATIONS.intersection(words))
    if denied:
        return Verdict("drop", "rtf.destination", denied[0])
    if group.bins:
        return Verdict("drop", "rtf.bin")
    if comments != KEEP_COMMENTS:
        annotation = sorted(ANNOTATION_WORDS.intersection(words))
        if annotation:
            return Verdict("drop", "rtf.comment", annotation[0])
    unknown = [name for name in group.star_names if name not in KEPT_IGNORABLE]
    if unknown:
        return Verdict("drop", "rtf.destination", unknown[0] or "*")
    linking = _linking_property(group, data)
    if linking is not None:
        return Verdict("drop", "rtf.linked_picture", linking)
    if "pict" in words:
        return _picture_verdict(group, data, pictures)
    if "field" in words:
        return _field_verdict(group, data, pictures, links, comments)
    if "fldinst" in words:
        refused = refused_instruction(group, data, links)
        return KEEP if refused is None else Verdict("drop", *refused)
    return KEEP


def _object_verdict(group: Group, data: bytes, pictures: str, links: str, comments: str) -> Verdict:
    for child in group.children:
        if "result" in child.words and judge(child, data, pictures, links, comments) == KEEP:
            return Verdict("hoist", "rtf.object", None, child)
    return Verdict("drop", "rtf.object")


def _picture_verdict(group: Group, data: bytes, pictures: str) -> Verdict:
    blips = sorted(BLIP_WORDS.intersection(group.words))
    kind = "+".join(blips) or "no type"
    if pictures == "none" or len(blips) != 1 or blips[0] not in KEPT_BLIPS:
        return Verdict("drop", "rtf.picture", kind)
    if not _payload_is(group, data, _SIGNATURES[blips[0]]):
        return Verdict("drop", "rtf.picture", f"{kind} (not a valid image payload)")
    return KEEP


def _payload_is(group: Group, data: bytes, signature: bytes) -> bool:
    r"""The picture's own content is hex digits only, and they decode to ``signature``.

    Nested groups must be ``\*`` groups (picture properties, an id): anything else in a
    picture would be read as picture data by some reader and as text by another.
    """
    if any(not child.star_names for child in group.children):
        return False
    head = bytearray()
    digits = 0
    for token in direct_tokens(group, data):
        if token.kind is Kind.SYMBOL:
            return False
        if token.kind is Kind.TEXT:
            run = data[token.start : token.end]
            if run.translate(None, _HEX_AND_SPACE):
                return False
            run = run.translate(None, b" \t\r\n")
            digits += len(run)
            head += run[: 2 * len(signature) - len(head)]
    return digits % 2 == 0 and bytes.fromhex(head.decode("ascii")) == signature


def _linking_property(group: Group, data: bytes) -> str | None:
    r"""The name of a shape property that links a picture to a file or URL, if ``group``
    (``{\sp{\sn name}{\sv value}}``, or any group with a ``{\sn ...}`` child) sets one.

    A ``\sn`` written directly in ``\sp`` rather than in its own group is no layout a
    writer produces, and its name cannot be told from the value: the property is refused.
    """
    if "sp" in group.words and "sn" in group.words:
        return "sn outside its group"
    for child in group.children:
        if "sn" in child.words:
            name = group_text(child, data).strip()
            if name.lower() in LINKING_SHAPE_PROPERTIES:
                return name
    return None


def _field_verdict(group: Group, data: bytes, pictures: str, links: str, comments: str) -> Verdict:
    if "fldinst" in group.words:
        # the whole group is the instruction then, the result included: nothing to keep
        return Verdict("drop", "rtf.external_field", "instruction outside its own group")
    instructions = (child for child in group.children if "fldinst" in child.words)
    refused = next(filter(None, (refused_instruction(child, data, links) for child in instructions)), None)
    if refused is None:
        return KEEP
    construct, location = refused
    for child in group.children:
        if "fldrslt" in child.words and judge(child, data, pictures, links, comments) == KEEP:
            return Verdict("hoist", construct, location, child)
    return Verdict("drop", construct, location)
