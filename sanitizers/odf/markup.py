"""Elements and attributes taken out of the document's XML, wherever they appear.

The rules are keyed by element name, not by part, so a macro binding or an embedded object
goes from a header in ``styles.xml`` as surely as from the body, and a flat document is
cleaned by the same rules in one pass.  What goes:

* everything that runs code: scripts (``office:scripts``, ``text:script``), event
  listeners of the document, of shapes, form controls and hyperlinks (``office:event-listeners``,
  ``script:event-listener``, ``presentation:event-listener``), the macro of a validation
  (``table:error-macro``), macro fields (``text:execute-macro``, whose text stays), and
  animation commands (``anim:command``);
* everything that fetches or talks to something outside: DDE (``text:dde-connection-decls``,
  ``table:dde-links``, ``office:dde-source``; a DDE field keeps its text), linked sections'
  and sheets' sources (``text:section-source``, ``table:table-source``,
  ``table:cell-range-source``), database connections of ranges, pivot tables and forms,
  form submission targets (``xlink:href`` of ``form:form``, ``xforms:submission``), linked
  pictures, sounds and fonts, plug-ins, applets and floating frames, formulas that reach
  outside (``formulas.py``), Word field codes kept in fieldmarks that would fetch or run
  something, and every other ``xlink:href`` that is not a kept hyperlink or a rebuilt picture;
* embedded objects (``draw:object``, ``draw:object-ole``): the frame keeps the object's
  replacement picture when there is one, rebuilt like any other picture;
* hyperlinks (``text:a``, ``draw:a``, image-map areas, URL buttons) whose target
  ``sanitizers.links.keep_link`` refuses: the text or the shape stays, the link goes;
* comments (``office:annotation``) under ``comments = "remove"``, and who wrote comments and
  tracked changes under ``metadata = "remove"``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from sanitizers.fields import judge_instruction
from sanitizers.links import keep_link
from sanitizers.odf.context import PartContext
from sanitizers.odf.formulas import reaches_outside
from sanitizers.odf.vocabulary import (
    NS_ANIM,
    NS_CALCEXT,
    NS_DC,
    NS_DRAW,
    NS_FORM,
    NS_LOEXT,
    NS_META,
    NS_OFFICE,
    NS_OFFICEOOO,
    NS_PRESENTATION,
    NS_SCRIPT,
    NS_STYLE,
    NS_SVG,
    NS_TABLE,
    NS_TEXT,
    NS_XFORMS,
    NS_XML,
    XLINK_HREF,
    q,
)
from sanitizers.ooxml.xmltree import prune, split_tag

Rule = Callable[[ET.Element, ET.Element, "_Cleaning"], bool]

#: Elements removed with everything inside them, and the construct they are reported as.
REMOVED_ELEMENTS: dict[str, str] = {
    q(NS_OFFICE, "script"): "odf.script",
    q(NS_TEXT, "script"): "odf.script",
    q(NS_SCRIPT, "event-listener"): "odf.event_listener",
    q(NS_PRESENTATION, "event-listener"): "odf.event_listener",
    q(NS_TABLE, "error-macro"): "odf.macro_binding",
    q(NS_ANIM, "command"): "odf.animation_command",
    q(NS_OFFICE, "dde-source"): "odf.dde_connection",
    q(NS_TEXT, "dde-connection-decls"): "odf.dde_connection",
    q(NS_TABLE, "dde-links"): "odf.dde_connection",
    q(NS_TEXT, "section-source"): "odf.linked_section",
    q(NS_TABLE, "table-source"): "odf.external_data",
    q(NS_TABLE, "cell-range-source"): "odf.external_data",
    q(NS_TABLE, "database-source-sql"): "odf.database_connection",
    q(NS_TABLE, "database-source-table"): "odf.database_connection",
    q(NS_TABLE, "database-source-query"): "odf.database_connection",
    q(NS_FORM, "connection-resource"): "odf.database_connection",
    q(NS_XFORMS, "submission"): "odf.form_submission",
    q(NS_DRAW, "object"): "odf.embedded_object",
    q(NS_DRAW, "object-ole"): "odf.embedded_object",
    q(NS_DRAW, "plugin"): "odf.plugin",
    q(NS_DRAW, "applet"): "odf.applet",
    q(NS_DRAW, "floating-frame"): "odf.floating_frame",
    q(NS_SVG, "font-face-src"): "odf.embedded_font",
    q(NS_ANIM, "audio"): "odf.media",
    q(NS_PRESENTATION, "sound"): "odf.media",
}
#: Elements replaced by their content (their text and children stay), and why.
UNWRAPPED_ELEMENTS: dict[str, str] = {
    q(NS_TEXT, "execute-macro"): "odf.macro_field",
    q(NS_TEXT, "dde-connection"): "odf.dde_connection",
    **{
        q(NS_TEXT, local): "odf.database_field"
        for local in ("database-display", "database-next", "database-row-select", "database-row-number")
    },
}
#: Elements whose ``xlink:href`` is a hyperlink the reader may follow: kept or unwrapped.
_LINKS = frozenset({q(NS_TEXT, "a"), q(NS_DRAW, "a")})
#: Image-map areas: a link over part of a picture; removed when their link is.
_AREAS = frozenset(q(NS_DRAW, local) for local in ("area-rectangle", "area-circle", "area-polygon"))
#: Elements that show a picture, from the package or inline.
PICTURE_ELEMENTS = frozenset(
    {
        q(NS_DRAW, "image"),
        q(NS_DRAW, "fill-image"),
        q(NS_STYLE, "background-image"),
        q(NS_TEXT, "list-level-style-image"),
    }
)
#: Elements whose ``xlink:href`` their own rule judged.
_JUDGED_HREFS = PICTURE_ELEMENTS | _LINKS | _AREAS
_BINARY_DATA = q(NS_OFFICE, "binary-data")
_EVENT_LISTENERS = q(NS_OFFICE, "event-listeners")
_FRAME = q(NS_DRAW, "frame")
#: What a frame shows once objects and pictures that could not stay are gone.
_FRAME_CONTENT = frozenset({q(NS_DRAW, "image"), q(NS_DRAW, "text-box"), q(NS_TABLE, "table")})
_IMAGE_DATA = q(NS_FORM, "image-data")
_FORM = q(NS_FORM, "form")
_FORM_DATABASE = frozenset({q(NS_FORM, "command"), q(NS_FORM, "datasource"), q(NS_FORM, "command-type")})
_BUTTON = q(NS_FORM, "button")
#: An XForms model's data, which ``src`` fetches from a URL when the form loads.
_XFORMS_INSTANCE = q(NS_XFORMS, "instance")
_XML_BASE = q(NS_XML, "base")
_ANNOTATIONS = frozenset({q(NS_OFFICE, "annotation"), q(NS_OFFICEOOO, "annotation")})
_ANNOTATION_END = q(NS_OFFICE, "annotation-end")
_CREATOR = q(NS_DC, "creator")
_INITIALS = frozenset({q(NS_META, "creator-initials"), q(NS_LOEXT, "sender-initials")})
_CHANGE_INFO = q(NS_OFFICE, "change-info")
_BIBLIOGRAPHY_URL = q(NS_TEXT, "url")
_FIELD_PARAM = "{urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0}param"
_FIELD_NAME = "{urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0}name"
_FIELD_VALUE = "{urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0}value"
_FIELD_CODE = "vnd.oasis.opendocument.field.code"
#: (element, attribute) holding a formula; a formula reaching outside loses the attribute
#: (the cell keeps its value, a validation accepts what it checked) or the whole element
#: (a name, a conditional style).
_FORMULA_ATTRIBUTES: dict[str, tuple[str, bool]] = {
    q(NS_TABLE, "table-cell"): (q(NS_TABLE, "formula"), False),
    q(NS_TABLE, "covered-table-cell"): (q(NS_TABLE, "formula"), False),
    q(NS_TABLE, "content-validation"): (q(NS_TABLE, "condition"), False),
    q(NS_TABLE, "named-expression"): (q(NS_TABLE, "expression"), True),
    q(NS_TABLE, "named-range"): (q(NS_TABLE, "cell-range-address"), True),
    q(NS_CALCEXT, "condition"): (q(NS_CALCEXT, "value"), True),
    q(NS_STYLE, "map"): (q(NS_STYLE, "condition"), True),
}
_PIVOT = q(NS_TABLE, "data-pilot-table")
_PIVOT_SOURCES = frozenset({q(NS_TABLE, "source-service"), q(NS_TABLE, "database-source-sql"),
                            q(NS_TABLE, "database-source-table"), q(NS_TABLE, "database-source-query")})  # fmt: skip
_PIVOT_RANGE = q(NS_TABLE, "source-cell-range")
_CELL_RANGE_ADDRESS = q(NS_TABLE, "cell-range-address")


class _Cleaning:
    """One part's pass: its context and the elements to unwrap or re-judge afterwards."""

    def __init__(self, context: PartContext) -> None:
        self.context = context
        self.unwrap: set[ET.Element] = set()
        self.emptied_frames: set[ET.Element] = set()

    def removed(self, parent: ET.Element, construct: str, detail: str = "", count: int = 1) -> bool:
        where = f"{self.context.name} ({detail})" if detail else self.context.name
        self.context.tally.add(construct, where, count=count)
        if parent.tag == _FRAME:
            self.emptied_frames.add(parent)
        return False


def clean_markup(root: ET.Element, context: PartContext) -> None:
    """Clean a part (or a flat document) in place."""
    cleaning = _Cleaning(context)
    rules = _rules()

    def keep(parent: ET.Element, element: ET.Element) -> bool:
        construct = REMOVED_ELEMENTS.get(element.tag)
        if construct is not None:
            return cleaning.removed(parent, construct)
        unwrapped = UNWRAPPED_ELEMENTS.get(element.tag)
        if unwrapped is not None:
            cleaning.context.tally.add(unwrapped, context.name)
            cleaning.unwrap.add(element)
        rule = rules.get(element.tag)
        if rule is not None and not rule(parent, element, cleaning):
            return False
        if split_tag(element.tag)[0] == NS_SCRIPT:  # script:* holds code or binds it, whatever its name
            return cleaning.removed(parent, "odf.event_listener")
        if element.attrib:
            _clean_attributes(element, cleaning)
        return True

    prune(root, keep)
    _unwrap_marked(root, cleaning.unwrap)
    prune(root, lambda parent, element: element not in cleaning.emptied_frames or _shows_something(element))


def _rules() -> dict[str, Rule]:
    return {
        q(NS_OFFICE, "scripts"): _scripts,
        _EVENT_LISTENERS: _event_listeners,
        **dict.fromkeys(PICTURE_ELEMENTS, _picture),
        _BINARY_DATA: _binary_data,
        **dict.fromkeys(_LINKS, _hyperlink),
        **dict.fromkeys(_AREAS, _area),
        **dict.fromkeys(_ANNOTATIONS, _annotation),
        _ANNOTATION_END: _annotation_end,
        _CHANGE_INFO: _change_info,
        **dict.fromkeys(_FORMULA_ATTRIBUTES, _formula),
        _PIVOT: _pivot_table,
        _FORM: _form,
        _FIELD_PARAM: _field_param,
    }


def _scripts(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    """The document's events, and its Basic and script libraries (flat documents).  The empty
    list of libraries LibreOffice writes in every document goes silently."""
    for child in element:
        if child.tag == _EVENT_LISTENERS:
            _event_listeners(element, child, cleaning)
        elif _holds_code(child):
            cleaning.removed(parent, "odf.script")
    return False


def _holds_code(script: ET.Element) -> bool:
    """Anything but an empty element, or one holding only empty elements without attributes."""
    return bool((script.text or "").strip()) or any(
        len(e) or e.attrib or (e.text or "").strip() for e in script.iter() if e is not script
    )


def _event_listeners(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    if len(element):
        cleaning.removed(parent, "odf.event_listener", split_tag(parent.tag)[1], count=len(element))
    return False


def _picture(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    """A picture stays only as the rebuild wrote it; a linked one goes."""
    pictures, where = cleaning.context.pictures, cleaning.context.name
    inline = element.find(_BINARY_DATA)
    if inline is not None:
        element.attrib.pop(XLINK_HREF, None)
        rebuilt = pictures.from_base64(inline.text or "", where)
        if rebuilt is None:
            return _dropped(parent, cleaning)
        inline.text = rebuilt
        return True
    href = element.get(XLINK_HREF)
    if href is None:
        return True
    name = pictures.from_reference(href, where)
    if name is None:
        return _dropped(parent, cleaning)
    element.set(XLINK_HREF, name)
    return True


def _dropped(parent: ET.Element, cleaning: _Cleaning) -> bool:
    """An element whose picture did not stay (reported where the picture was judged)."""
    if parent.tag == _FRAME:
        cleaning.emptied_frames.add(parent)
    return False


def _binary_data(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    """Inline data is a picture's, which its element rebuilt; anywhere else it is an object."""
    return parent.tag in PICTURE_ELEMENTS or cleaning.removed(parent, "odf.embedded_object")


def _hyperlink(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    href = element.get(XLINK_HREF)
    if href is not None and not keep_link(href, cleaning.context.choices.links, fragments=True):
        cleaning.context.tally.add("odf.hyperlink", f"{cleaning.context.name} ({href[:80]})")
        cleaning.unwrap.add(element)
    return True


def _area(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    href = element.get(XLINK_HREF)
    return (
        href is None
        or keep_link(href, cleaning.context.choices.links, fragments=True)
        or cleaning.removed(parent, "odf.hyperlink", href[:80])
    )


def _annotation(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    """A comment stays unless the rule removes comments; who wrote it follows metadata."""
    choices = cleaning.context.choices
    if not choices.keep_comments:
        return cleaning.removed(parent, "odf.comments")
    if not choices.keep_metadata:
        _blank_authors(element, "odf.comment_author", cleaning)
    return True


def _annotation_end(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    """The end of a comment's range, counted with its comment."""
    return cleaning.context.choices.keep_comments


def _change_info(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    if not cleaning.context.choices.keep_metadata:
        _blank_authors(element, "odf.revision_author", cleaning)
    return True


def _blank_authors(element: ET.Element, construct: str, cleaning: _Cleaning) -> None:
    """The author's name becomes empty (the schema wants the element in a tracked change), the
    initials go."""
    for child in list(element):
        if child.tag == _CREATOR and (child.text or len(child)):
            child.text = ""
            child[:] = []
            cleaning.context.tally.add(construct, cleaning.context.name)
        elif child.tag in _INITIALS:
            element.remove(child)


def _formula(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    attribute, element_goes = _FORMULA_ATTRIBUTES[element.tag]
    formula = element.get(attribute)
    if formula is None or not reaches_outside(formula, cleaning.context.choices.links):
        return True
    if element_goes:
        return cleaning.removed(parent, "odf.external_formula", formula[:80])
    del element.attrib[attribute]
    cleaning.context.tally.add("odf.external_formula", f"{cleaning.context.name} ({formula[:80]})")
    return True


def _pivot_table(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    """A pivot table fed from a database, a data service or another document goes; the
    values it last showed stay in the sheet's cells."""
    links = cleaning.context.choices.links
    for source in element:
        if source.tag in _PIVOT_SOURCES or (
            source.tag == _PIVOT_RANGE and reaches_outside(source.get(_CELL_RANGE_ADDRESS, ""), links)
        ):
            return cleaning.removed(parent, "odf.pivot_source")
    return True


def _form(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    """A form keeps its controls; where it submits to and the database it reads go."""
    target = element.attrib.pop(XLINK_HREF, None)
    if target:
        cleaning.context.tally.add("odf.form_submission", f"{cleaning.context.name} ({target[:80]})")
    database = [key for key in element.attrib if key in _FORM_DATABASE]
    for key in database:
        del element.attrib[key]
    if database:
        cleaning.context.tally.add("odf.database_connection", cleaning.context.name)
    return True


def _field_param(parent: ET.Element, element: ET.Element, cleaning: _Cleaning) -> bool:
    """A Word field LibreOffice keeps as a fieldmark holds its code, which Word runs again
    once the document is saved as .docx: judged as the Word rebuilds judge fields."""
    if element.get(_FIELD_NAME) != _FIELD_CODE:
        return True
    code = element.get(_FIELD_VALUE, "")
    danger = judge_instruction(code, cleaning.context.choices.links)
    return danger is None or cleaning.removed(parent, "odf.field", f"{danger}: {code.strip()[:60]}")


def _clean_attributes(element: ET.Element, cleaning: _Cleaning) -> None:
    """Attributes that reach outside, wherever they are."""
    context = cleaning.context
    href = element.get(XLINK_HREF)
    if href is not None and element.tag == _BUTTON:  # a button that opens a page
        if not keep_link(href, context.choices.links):
            del element.attrib[XLINK_HREF]
            context.tally.add("odf.hyperlink", f"{context.name} ({href[:80]})")
    elif href is not None and element.tag not in _JUDGED_HREFS:
        del element.attrib[XLINK_HREF]
        context.tally.add("odf.external_reference", f"{context.name} ({split_tag(element.tag)[1]})")
    if element.tag == _XFORMS_INSTANCE and element.attrib.pop("src", None) is not None:
        context.tally.add("odf.external_reference", f"{context.name} (instance)")
    image = element.get(_IMAGE_DATA)
    if image is not None:
        name = context.pictures.from_reference(image, context.name)
        if name is None:
            del element.attrib[_IMAGE_DATA]
        else:
            element.set(_IMAGE_DATA, name)
    url = element.get(_BIBLIOGRAPHY_URL)
    if url is not None and not keep_link(url, context.choices.links):
        del element.attrib[_BIBLIOGRAPHY_URL]
        context.tally.add("odf.hyperlink", f"{context.name} ({url[:80]})")
    element.attrib.pop(_XML_BASE, None)


def _shows_something(frame: ET.Element) -> bool:
    return any(child.tag in _FRAME_CONTENT for child in frame)


def _unwrap_marked(root: ET.Element, marked: set[ET.Element]) -> None:
    """Replace each marked element by its text and children, innermost first."""
    if not marked:
        return
    found = [(parent, child) for parent in root.iter() for child in parent if child in marked]
    for parent, child in reversed(found):
        _unwrap(parent, child)


def _unwrap(parent: ET.Element, element: ET.Element) -> None:
    index = list(parent).index(element)
    before = parent[index - 1] if index > 0 else None
    text = element.text or ""
    if before is None:
        parent.text = (parent.text or "") + text
    else:
        before.tail = (before.tail or "") + text
    children = list(element)
    parent[index : index + 1] = children
    tail = element.tail or ""
    if children:
        children[-1].tail = (children[-1].tail or "") + tail
    elif before is None:
        parent.text = (parent.text or "") + tail
    else:
        before.tail = (before.tail or "") + tail
