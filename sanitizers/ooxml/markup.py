"""Elements and attributes taken out of every XML part, wherever they appear.

The rules are keyed by element name, not by part, so an ActiveX control or an OLE
object is removed from a footnote or a chart as surely as from the body.  References
(``r:id``, ``r:embed``, ``o:relid``) to a relationship that was dropped would make Office
report the file as damaged: the attribute is detached where the element still makes sense
without it (a hyperlink keeps its text, a picture its frame), otherwise the element goes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from sanitizers.links import is_web_link
from sanitizers.ooxml.context import PartContext
from sanitizers.ooxml.vocabulary import (
    NS_A,
    NS_C,
    NS_MC,
    NS_O,
    NS_P,
    NS_R,
    NS_V,
    NS_W,
    NS_X,
    NS_X15AC,
    NS_XDR,
    NS_XL_VML,
    OLE_GRAPHIC_DATA,
    SAFE_ACTIONS,
)
from sanitizers.ooxml.xmltree import XmlDocument, prune, split_tag


def _q(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


#: Elements removed with everything inside them, and the construct they are reported as.
REMOVED_ELEMENTS: dict[str, str] = {
    _q(NS_W, "altChunk"): "ooxml.alt_chunk",
    _q(NS_W, "subDoc"): "ooxml.sub_document",
    _q(NS_W, "control"): "ooxml.activex",
    _q(NS_W, "attachedTemplate"): "ooxml.attached_template",
    _q(NS_W, "mailMerge"): "ooxml.mail_merge",
    _q(NS_W, "saveThroughXslt"): "ooxml.external_relationship",
    _q(NS_W, "frameset"): "ooxml.frame",
    _q(NS_W, "entryMacro"): "ooxml.macro_binding",
    _q(NS_W, "exitMacro"): "ooxml.macro_binding",
    _q(NS_W, "objectEmbed"): "ooxml.embedded_object",
    _q(NS_W, "objectLink"): "ooxml.embedded_object",
    _q(NS_O, "OLEObject"): "ooxml.embedded_object",
    _q(NS_X, "oleObjects"): "ooxml.embedded_object",
    _q(NS_X, "oleLink"): "ooxml.embedded_object",
    _q(NS_X, "controls"): "ooxml.activex",
    _q(NS_X, "externalReferences"): "ooxml.external_link",
    _q(NS_X, "ddeLink"): "ooxml.dde_link",
    _q(NS_X, "pivotCaches"): "ooxml.pivot_cache",
    _q(NS_X, "webPublishItems"): "ooxml.web_publishing",  # republished to a path on every save
    _q(NS_X, "webPublishObjects"): "ooxml.web_publishing",
    _q(NS_XL_VML, "FmlaMacro"): "ooxml.macro_binding",
    _q(NS_P, "controls"): "ooxml.activex",
    _q(NS_P, "embeddedFontLst"): "ooxml.embedded_font",
    _q(NS_P, "sndAc"): "ooxml.media",
    _q(NS_C, "externalData"): "ooxml.embedded_object",
}

#: Elements that stay when their reference dangles; only the reference goes.
_DETACHABLE = frozenset(
    {
        _q(NS_W, "hyperlink"),
        _q(NS_A, "blip"),
        _q(NS_V, "imagedata"),
        _q(NS_V, "fill"),
        _q(NS_X, "pageSetup"),
        _q(NS_X, "chartsheetPageSetup"),
    }
)
_RELID = _q(NS_O, "relid")
_AUTHOR_ATTRIBUTES = frozenset({_q(NS_W, "author"), _q(NS_W, "initials")})
_COMMENT = _q(NS_W, "comment")
#: VML attributes that make Office fetch a file by path or URL, bypassing relationships.
_VML_FETCHES = frozenset({"src", _q(NS_O, "href"), _q(NS_O, "althref")})
_CLIENT_DATA = _q(NS_XL_VML, "ClientData")


def clean_markup(document: XmlDocument, context: PartContext) -> None:
    special = _special_rules(document)

    def keep(parent: ET.Element, element: ET.Element) -> bool:
        construct = REMOVED_ELEMENTS.get(element.tag)
        if construct is not None:
            context.tally.add(construct, context.name)
            return False
        rule = special.get(element.tag)
        if rule is not None and not rule(element, context):
            return False
        return not element.attrib or _clean_attributes(element, context)

    _clean_attributes(document.root, context)
    prune(document.root, keep)


def _special_rules(document: XmlDocument) -> dict[str, Callable[[ET.Element, PartContext], bool]]:
    """Rules that look at more than an element's name; False removes the element."""

    def choice(element: ET.Element, context: PartContext) -> bool:
        # a Requires naming an undeclared prefix cannot be evaluated; the Fallback stands in
        if document.resolvable(element, element.get("Requires", "")):
            return True
        context.tally.add("ooxml.unresolvable_markup", context.name, "dropped")
        return False

    return {
        _q(NS_MC, "Choice"): choice,
        _q(NS_P, "graphicFrame"): _graphic_frame,
        _q(NS_A, "hlinkClick"): _action,
        _q(NS_A, "hlinkHover"): _action,
        _q(NS_W, "commentRangeStart"): _comment_anchor,
        _q(NS_W, "commentRangeEnd"): _comment_anchor,
        _q(NS_W, "commentReference"): _comment_anchor,
        _q(NS_W, "rsids"): _metadata("ooxml.revision_ids"),
        _q(NS_X15AC, "absPath"): _metadata("ooxml.file_path"),
        _q(NS_V, "shape"): _note_shape,
    }


def _graphic_frame(element: ET.Element, context: PartContext) -> bool:
    """A PowerPoint OLE object lives in a graphic frame of its own."""
    for data in element.iter(_q(NS_A, "graphicData")):
        if data.get("uri") == OLE_GRAPHIC_DATA:
            context.tally.add("ooxml.embedded_object", context.name)
            return False
    return True


def _action(element: ET.Element, context: PartContext) -> bool:
    """Click and hover actions may run programs, macros or OLE verbs; jumps may stay."""
    action = element.get("action")
    if action is None or action.split("?", 1)[0].lower() in SAFE_ACTIONS:
        return True
    context.tally.add("ooxml.action", f"{context.name} ({action[:60]})")
    return False


def _comment_anchor(element: ET.Element, context: PartContext) -> bool:
    if context.comments_kept:
        return True
    context.tally.add("ooxml.comments", context.name)
    return False


def _metadata(construct: str) -> Callable[[ET.Element, PartContext], bool]:
    def rule(element: ET.Element, context: PartContext) -> bool:
        if context.policy.keep_metadata:
            return True
        context.tally.add(construct, context.name)
        return False

    return rule


def _note_shape(element: ET.Element, context: PartContext) -> bool:
    """An Excel comment's VML box; it would show empty once the comment is gone."""
    if context.policy.keep_comments:
        return True
    data = element.find(_CLIENT_DATA)
    if data is None or data.get("ObjectType") != "Note":
        return True
    context.tally.add("ooxml.comments", context.name)
    return False


def _clean_attributes(element: ET.Element, context: PartContext) -> bool:
    """Clean the element's attributes in place; False when the element must go."""
    namespace = split_tag(element.tag)[0]
    revision_ids = 0
    for key, value in list(element.attrib.items()):
        key_namespace, local = split_tag(key)
        if key_namespace == NS_R or key == _RELID:
            if value and value not in context.kept_ids:
                context.tally.add("ooxml.dangling_reference", context.name)
                if element.tag not in _DETACHABLE:
                    return False
                del element.attrib[key]
        elif key_namespace == NS_W and not context.policy.keep_metadata:
            if local.startswith("rsid"):
                del element.attrib[key]
                revision_ids += 1
            elif key in _AUTHOR_ATTRIBUTES and value:
                # an empty author is valid (ST_String): Word shows the comment or change unsigned
                element.set(key, "")
                construct = "ooxml.comment_author" if element.tag == _COMMENT else "ooxml.revision_author"
                context.tally.add(construct, context.name)
        elif key == "macro" and namespace == NS_XDR:
            del element.attrib[key]
            if value:
                context.tally.add("ooxml.macro_binding", context.name)
        elif namespace in (NS_V, NS_O):
            _clean_vml_attribute(element, key, value, context)
    if revision_ids:
        context.tally.add("ooxml.revision_ids", context.name, count=revision_ids)
    return True


def _clean_vml_attribute(element: ET.Element, key: str, value: str, context: PartContext) -> None:
    if key in _VML_FETCHES:
        del element.attrib[key]
        context.tally.add("ooxml.external_relationship", f"{context.name} ({value[:60]})")
    elif key == "href" and not (context.policy.keep_web_links and is_web_link(value)):
        del element.attrib[key]
        context.tally.add("ooxml.hyperlink", f"{context.name} ({value[:60]})")
