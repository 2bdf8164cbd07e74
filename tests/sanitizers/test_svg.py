"""SVG: only drawing survives (re-checked by our own defusedxml walk); attacks are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET

from sanitizers.base import Limits, Sanitizer
from sanitizers.errors import SanitizeError
from sanitizers.svg import SvgRebuild
from tests.sanitizers.contract import RebuildContract

SVG = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def svg(body: str, attrs: str = "") -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<svg {SVG} width="100" height="100"{attrs}>{body}</svg>'


class TestSvgContract(RebuildContract):
    def make_sanitizer(self) -> Sanitizer:
        return SvgRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        path = tmp_path / "in.svg"
        path.write_text(svg('<script>alert(1)</script><rect width="10" height="10" onclick="x()"/>'))
        return path


def active_content(data: bytes) -> list[str]:
    """An independent walk of an output: what could run, load, or pull in another document."""
    found: list[str] = []
    for element in SafeET.fromstring(data, forbid_dtd=True).iter():
        local = str(element.tag).rsplit("}", 1)[-1]
        if local in {"script", "foreignObject", "image", "feImage", "use", "a", "animate", "set", "style",
                     "iframe", "animateTransform", "animateMotion", "handler", "listener"} and (
            local != "use" or not all(v.startswith("#") for k, v in element.attrib.items() if k.endswith("href"))
        ):  # fmt: skip
            found.append(local)
        for key, value in element.attrib.items():
            compact = re.sub(r"\s", "", value).lower()
            if key.rsplit("}", 1)[-1].lower().startswith("on"):
                found.append(key)
            if key.endswith("href") and not value.startswith("#"):
                found.append(f"{key}={value}")
            if re.search(r"url\((?!['\"]?#)", compact) or compact.startswith(("javascript:", "data:")):
                found.append(f"{key}={value}")
    return found


def rebuild(tmp_path: Path, document: str) -> tuple[bytes, dict[str, int]]:
    src = tmp_path / "in.svg"
    src.write_text(document, encoding="utf-8")
    dst = tmp_path / "out.svg"
    report = SvgRebuild().sanitize(src, dst, {}, Limits())
    return dst.read_bytes(), {f.construct: f.count for f in report.findings}


@pytest.mark.parametrize(
    ("body", "attrs", "construct"),
    [
        ("<script>alert(1)</script>", "", "svg.script"),
        ("<script><![CDATA[alert(1)]]></script>", "", "svg.script"),
        ("", ' onload="alert(1)"', "svg.event_handler"),
        ('<rect width="1" height="1" OnMouseOver="alert(1)"/>', "", "svg.event_handler"),
        ('<foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" src="javascript:x"/></foreignObject>', "",
         "svg.foreign_object"),
        ('<use xlink:href="http://127.0.0.1/x.svg#a"/>', "", "svg.external_reference"),
        ('<use href="data:image/svg+xml;base64,PHN2Zy8+#a"/>', "", "svg.external_reference"),
        ('<image xlink:href="https://example.com/a.jpg" width="9" height="9"/>', "", "svg.image"),
        ('<image href="text:/etc/passwd"/>', "", "svg.image"),
        ('<a xlink:href="javascript:alert(1)"><rect width="5" height="5"/></a>', "", "svg.link"),
        ('<set attributeName="href" to="javascript:alert(1)"/>', "", "svg.animation"),
        ('<animate attributeName="fill" values="red;blue"/>', "", "svg.animation"),
        ("<style>@import url(http://evil.example/x.css);</style>", "", "svg.stylesheet"),
        ('<rect width="1" height="1" style="fill: url(http://evil.example/p)"/>', "", "svg.css"),
        ('<rect width="1" height="1" fill="url(http://evil.example/p#x)"/>', "", "svg.external_reference"),
        ('<filter id="f"><feImage href="http://evil.example/x.png"/></filter>', "", "svg.image"),
    ],
)  # fmt: skip
def test_active_construct_is_removed(tmp_path: Path, body: str, attrs: str, construct: str) -> None:
    document = svg(f'<rect id="keep" width="10" height="10" fill="#123456"/>{body}', attrs)
    assert active_content(document.encode()), "the independent walk must see the construct"
    out, found = rebuild(tmp_path, document)
    assert active_content(out) == []
    assert construct in found
    assert b'<rect id="keep" width="10" height="10" fill="#123456"/>' in out


def test_drawing_gradients_internal_references_and_text_survive(tmp_path: Path) -> None:
    body = (
        '<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient>'
        '<path id="p" d="M0 0 L10 10"/></defs>'
        '<rect width="10" height="10" fill="url(#g)" style="stroke: url(#g); stroke-width: 2"/>'
        '<use xlink:href="#p" transform="translate(5)"/>'
        '<text x="1" y="9" font-family="Noto Sans JP">市役所<tspan dy="2">案内</tspan>です</text>'
    )
    out, found = rebuild(tmp_path, svg(body))
    text = out.decode()
    for kept in ('fill="url(#g)"', 'style="stroke: url(#g); stroke-width: 2"', '<use xlink:href="#p"',
                 "市役所<tspan dy=\"2\">案内</tspan>です", "<stop offset=\"0\" stop-color=\"#fff\"/>"):  # fmt: skip
        assert kept in text
    assert found == {}


def test_editor_metadata_is_dropped(tmp_path: Path) -> None:
    document = svg(
        '<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>'
        '<sodipodi:namedview xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"/>'
        '<g xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" inkscape:label="layer"/>',
    )
    out, found = rebuild(tmp_path, document)
    assert b"rdf" not in out and b"sodipodi" not in out and b"inkscape" not in out
    assert found["svg.metadata"] == 3


def test_standard_doctype_is_accepted(tmp_path: Path) -> None:
    document = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n' + svg("<desc>d</desc>").split("\n", 1)[1]
    )
    out, _ = rebuild(tmp_path, document)
    assert b"DOCTYPE" not in out and b"<desc>d</desc>" in out


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
         f"<svg {SVG}><text>&b;</text></svg>", "xml.attack"),
        ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         f"<svg {SVG}><text>&x;</text></svg>", "xml.attack"),
        ('<svg xmlns="http://www.w3.org/1337/svg"><rect/></svg>', "svg.malformed"),
        ("<svg><desc><![CDATA[</desc><script>alert(1)</script>]]></svg>", "svg.malformed"),
        ('<html xmlns="http://www.w3.org/1999/xhtml"/>', "svg.malformed"),
        (f"<svg {SVG}>" + "<g>" * 300 + "</g>" * 300 + "</svg>", "svg.malformed"),
    ],
)  # fmt: skip
def test_attacks_and_non_svg_are_refused(tmp_path: Path, document: str, code: str) -> None:
    with pytest.raises(SanitizeError) as caught:
        rebuild(tmp_path, document)
    assert caught.value.code == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.svg"]
