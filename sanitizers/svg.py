"""SVG: parsed with defusedxml, rebuilt element by element from an allow-list.

Only SVG-namespace drawing elements and presentation attributes are copied to a new tree;
scripts, foreignObject, animation, images, style sheets, event handlers, and any reference
that is not to an ``#id`` inside the document are left behind.  The new tree is written by a
small serialiser of our own (no ElementTree namespace registry to mutate), then re-parsed
and re-checked independently.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # only builds our tree; input goes through defusedxml
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from xml.sax.saxutils import escape, quoteattr

import defusedxml
from defusedxml import ElementTree as SafeET

from sanitizers.base import Limits, Options, Report, Sanitizer
from sanitizers.errors import MalformedError, VerifyError
from sanitizers.html import clean_style, css_is_inert
from sanitizers.links import url_scheme
from sanitizers.output import write_atomically

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_SVG = f"{{{SVG_NS}}}"

ALLOWED_ELEMENTS = frozenset(
    {
        "svg", "g", "defs", "symbol", "use", "switch", "title", "desc", "path", "rect", "circle",
        "ellipse", "line", "polyline", "polygon", "text", "tspan", "textPath", "linearGradient",
        "radialGradient", "stop", "clipPath", "mask", "pattern", "marker", "filter", "feBlend",
        "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix", "feDiffuseLighting",
        "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA", "feFuncB",
        "feFuncG", "feFuncR", "feGaussianBlur", "feMerge", "feMergeNode", "feMorphology", "feOffset",
        "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
    }
)  # fmt: skip
#: Elements that mean nothing without their reference.
_NEED_HREF = frozenset({"use", "textPath"})
ALLOWED_ATTRIBUTES = frozenset(
    {
        "id", "class", "x", "y", "width", "height", "viewBox", "preserveAspectRatio", "version",
        "d", "points", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr",
        "transform", "pathLength", "dx", "dy", "rotate", "textLength", "lengthAdjust", "startOffset",
        "method", "spacing", "side", "offset", "gradientUnits", "gradientTransform", "spreadMethod",
        "clipPathUnits", "maskUnits", "maskContentUnits", "patternUnits", "patternContentUnits",
        "patternTransform", "markerUnits", "markerWidth", "markerHeight", "refX", "refY", "orient",
        "filterUnits", "primitiveUnits", "in", "in2", "result", "stdDeviation", "mode", "type",
        "values", "operator", "k1", "k2", "k3", "k4", "radius", "baseFrequency", "numOctaves",
        "seed", "stitchTiles", "tableValues", "slope", "intercept", "amplitude", "exponent",
        "scale", "xChannelSelector", "yChannelSelector", "kernelMatrix", "kernelUnitLength",
        "order", "divisor", "bias", "targetX", "targetY", "edgeMode", "preserveAlpha",
        "surfaceScale", "diffuseConstant", "specularConstant", "specularExponent", "azimuth",
        "elevation", "z", "pointsAtX", "pointsAtY", "pointsAtZ", "limitingConeAngle",
        "requiredFeatures", "systemLanguage",
        # presentation attributes
        "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap",
        "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset",
        "stroke-opacity", "opacity", "color", "display", "visibility", "overflow", "clip",
        "clip-path", "clip-rule", "mask", "filter", "marker-start", "marker-mid", "marker-end",
        "stop-color", "stop-opacity", "flood-color", "flood-opacity", "lighting-color",
        "color-interpolation", "color-interpolation-filters", "font-family", "font-size",
        "font-style", "font-weight", "font-variant", "font-stretch", "text-anchor",
        "text-decoration", "dominant-baseline", "alignment-baseline", "baseline-shift",
        "letter-spacing", "word-spacing", "writing-mode", "direction", "unicode-bidi",
        "shape-rendering", "text-rendering", "image-rendering", "vector-effect", "paint-order",
        "style",
    }
)  # fmt: skip
#: Inline style may also set what CSS has no attribute for (Inkscape writes these).
_STYLE_PROPERTIES = frozenset(name for name in ALLOWED_ATTRIBUTES if name not in {"style", "id", "class"}) | {
    "font", "line-height", "text-align", "marker", "enable-background", "mix-blend-mode", "isolation",
}  # fmt: skip
_XML_ATTRIBUTES = {f"{{{XML_NS}}}space": "xml:space", f"{{{XML_NS}}}lang": "xml:lang"}
_HREFS = frozenset({"href", f"{{{XLINK_NS}}}href"})
_FRAGMENT = re.compile(r"#[A-Za-z_][\w.:\-]*")
_URL_CALL = re.compile(r"url\s*\(", re.IGNORECASE)
_FRAGMENT_URL = re.compile(r"url\(\s*(['\"]?)#[A-Za-z_][\w.:\-]*\1\s*\)", re.IGNORECASE)

#: Dropped elements (with their content), by the construct the report names.
_DROPPED_AS: dict[str, str] = {
    "script": "svg.script",
    "foreignObject": "svg.foreign_object",
    "image": "svg.image",
    "feImage": "svg.image",
    "style": "svg.stylesheet",
    "metadata": "svg.metadata",
    **{
        name: "svg.animation"
        for name in ("animate", "animateMotion", "animateTransform", "animateColor", "set", "discard")
    },
}


#: Nesting deeper than any drawing needs; the rebuild and the serialiser recurse.
MAX_DEPTH = 200


@dataclass
class _Rebuild:
    """Copies the allowed part of a parsed SVG tree into a new one, counting the rest."""

    removed: Counter[str] = field(default_factory=Counter)

    def element(self, source: ET.Element, parent: ET.Element | None, depth: int = 0) -> ET.Element | None:
        name = _svg_local_name(source.tag)
        if name is None:
            self.removed["svg.metadata" if isinstance(source.tag, str) else "svg.other_node"] += 1
            return None
        if name == "a":
            # a link's drawing stays, as a group; where it pointed does not
            self.removed["svg.link"] += 1
            name = "g"
        if name not in ALLOWED_ELEMENTS:
            self.removed[_DROPPED_AS.get(name, "svg.other_element")] += 1
            return None
        if depth > MAX_DEPTH:
            raise MalformedError("svg.malformed", f"elements nested deeper than {MAX_DEPTH}")
        attributes = self.attributes(source)
        if name == "g":
            attributes.pop("xlink:href", None)
        if name in _NEED_HREF and "xlink:href" not in attributes:
            self.removed["svg.external_reference"] += 1
            return None
        built = ET.Element(name, attributes) if parent is None else ET.SubElement(parent, name, attributes)
        built.text = source.text
        last: ET.Element | None = None
        for child in source:
            copied = self.element(child, built, depth + 1)
            if copied is not None:
                last = copied
                last.tail = child.tail
            elif last is not None:
                last.tail = (last.tail or "") + (child.tail or "")
            else:
                built.text = (built.text or "") + (child.tail or "")
        return built

    def attributes(self, source: ET.Element) -> dict[str, str]:
        kept: dict[str, str] = {}
        for key, value in source.attrib.items():
            name = _attribute_name(key)
            if name is None:
                self.removed["svg.metadata" if key.startswith("{") else "svg.other_attribute"] += 1
            elif name.lower().startswith("on"):
                self.removed["svg.event_handler"] += 1
            elif name in {"href", "xlink:href"}:
                if _FRAGMENT.fullmatch(value.strip()):
                    kept["xlink:href"] = value.strip()
                else:
                    self.removed["svg.external_reference"] += 1
            elif name == "style":
                cleaned, dropped = clean_style(value, _STYLE_PROPERTIES, fragment_urls=True)
                self.removed["svg.css"] += dropped
                if cleaned:
                    kept[name] = cleaned
            elif not _value_is_inert(value):
                self.removed["svg.external_reference"] += 1
            else:
                kept[name] = value
        return kept


def _svg_local_name(tag: object) -> str | None:
    """The local name of an SVG-namespace element; None for anything else (comments too)."""
    if isinstance(tag, str) and tag.startswith(_SVG):
        return tag[len(_SVG) :]
    return None


def _attribute_name(key: str) -> str | None:
    """How an input attribute is written in the output, or None if it is not allowed."""
    if key in _XML_ATTRIBUTES:
        return _XML_ATTRIBUTES[key]
    if key in _HREFS:
        return "xlink:href"
    if key in ALLOWED_ATTRIBUTES or key.lower().startswith("on"):
        return key
    return None


def _value_is_inert(value: str) -> bool:
    """No URL but url(#id), no script or data scheme, in an ordinary attribute's value."""
    if url_scheme(value) in {"javascript", "vbscript", "data"}:
        return False
    return not _URL_CALL.search(_FRAGMENT_URL.sub("", value))


def parse_svg(raw: bytes) -> ET.Element:
    try:
        root = SafeET.fromstring(raw, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise MalformedError("xml.attack", f"{type(exc).__name__}: {exc}") from None
    except ET.ParseError as exc:
        raise MalformedError("svg.malformed", f"not well-formed XML: {exc}") from None
    if root.tag != f"{_SVG}svg":
        raise MalformedError("svg.malformed", f"the root element is {str(root.tag)[:100]}, not an SVG <svg>")
    return root


def serialise(element: ET.Element, root: bool = True) -> str:
    """Our tree as XML text: names we chose, values escaped."""
    attributes = "".join(f" {name}={quoteattr(value)}" for name, value in element.attrib.items())
    if root:
        attributes = f" xmlns={quoteattr(SVG_NS)} xmlns:xlink={quoteattr(XLINK_NS)}" + attributes
    inner = escape(element.text or "") + "".join(
        serialise(child, root=False) + escape(child.tail or "") for child in element
    )
    tag = str(element.tag)
    return f"<{tag}{attributes}>{inner}</{tag}>" if inner else f"<{tag}{attributes}/>"


def verify_svg(data: bytes) -> None:
    """Re-parse what we wrote and walk it: allow-listed names only, nothing that loads or runs."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (defusedxml.DefusedXmlException, ET.ParseError) as exc:
        raise VerifyError("svg.verify_failed", f"output does not re-parse: {exc}") from None
    for element in root.iter():
        name = _svg_local_name(element.tag)
        if name not in ALLOWED_ELEMENTS:
            raise VerifyError("svg.verify_failed", f"element {element.tag!r} in output")
        for key, value in element.attrib.items():
            if key in _HREFS:
                if not _FRAGMENT.fullmatch(value):
                    raise VerifyError("svg.verify_failed", f"reference {value[:60]!r} in output")
            elif key not in ALLOWED_ATTRIBUTES and key not in _XML_ATTRIBUTES:
                raise VerifyError("svg.verify_failed", f"attribute {key!r} in output")
            elif not _value_is_inert(value) or (
                key == "style" and not css_is_inert(value, fragment_urls=True)
            ):
                raise VerifyError("svg.verify_failed", f"active value {value[:60]!r} in output")


class SvgRebuild(Sanitizer):
    """SVG rebuilt from an allow-list of drawing elements and presentation attributes."""

    types: ClassVar[frozenset[str]] = frozenset({"svg"})
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        root = parse_svg(limits.read_file(untrusted_src))
        rebuild = _Rebuild()
        tree = rebuild.element(root, None)
        if tree is None:  # parse_svg guarantees an <svg> root, which is always copied
            raise MalformedError("svg.malformed", "nothing to rebuild")
        data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + serialise(tree) + "\n").encode("utf-8")
        verify_svg(data)
        write_atomically(dst, data)
        report = Report("svg")
        for construct, count in sorted(rebuild.removed.items()):
            report.add(construct, "removed", count)
        return report
