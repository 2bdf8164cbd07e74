"""Office 97-2003 rebuild on hand-made compound files: what is kept, dropped, refused.

Inputs are written with the project's CFB writer around minimal hand-made streams (a
Word 97 FIB with a piece table, BIFF8 records, PowerPoint records): enough for the
sanitiser's parsers, not for Office itself.  Real documents are in test_ole_corpus.py.
Security claims are re-checked with oletools and an independent olefile walk.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import uuid
import warnings
from collections.abc import Mapping
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path

import olefile
import pytest

from sanitizers.base import Finding, Limits, Sanitizer
from sanitizers.errors import PolicyError, SanitizeError, VerifyError
from sanitizers.ole import OleRebuild, powerpoint, rebuild, word
from sanitizers.ole.cfb_writer import compound_file_bytes, write_compound_file
from sanitizers.ole.excel import NEUTRAL_RECORD, OBPROJ
from sanitizers.pipeline import Rule, process_file
from sanitizers.registry import default_registry
from tests.sanitizers import ooxml_builders as ob
from tests.sanitizers.contract import RebuildContract

with warnings.catch_warnings():  # oletools' pyparsing use is deprecated, not our concern
    warnings.simplefilter("ignore")
    from oletools import msodde, oleid, oleobj
    from oletools.olevba import VBA_Parser

WORD_CLSID = uuid.UUID("00020906-0000-0000-c000-000000000046")
EXCEL_CLSID = uuid.UUID("00020820-0000-0000-c000-000000000046")
PPT_CLSID = uuid.UUID("64818d10-4f9b-11cf-86ea-00aa00b929e8")
SUMMARY = {
    "\x05SummaryInformation": b"\xfe\xff" + bytes(46),
    "\x05DocumentSummaryInformation": b"\xfe\xff" + bytes(46),
}
#: The shape olevba looks for; the content need not be a working project.
VBA_PROJECT = {
    "PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\nDocument=ThisDocument/&H00000000\r\n',
    "VBA/dir": b"\x01\x00\x00\x00",
    "VBA/_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
    "VBA/ThisDocument": b'Attribute VB_Name = "ThisDocument"\r\nSub AutoOpen()\r\nEnd Sub\r\n',
}
#: An OLE 1.0 package embedding "calc.exe", as oleobj extracts it.
_PACKAGE = b"\x02\x00calc.exe\x00C:\\calc.exe\x00\x00\x00\x03\x00\x0c\x00\x00\x00C:\\calc.exe\x00\x04\x00\x00\x00MZ\x90\x00"
OLE10_NATIVE = struct.pack("<I", len(_PACKAGE)) + _PACKAGE


# ── builders ─────────────────────────────────────────────────────────────────────────


def word_streams(
    text: str, *, flags: int = 0x0200, template: str = "", compressed_tail: str = ""
) -> dict[str, bytes]:
    """WordDocument (a Word 97 FIB, then the text) and 1Table (the piece table).

    ``compressed_tail`` is appended as a second, 8-bit piece of the same text.
    """
    fc_lcb: dict[int, tuple[int, int]] = {}
    fib_size = 154 + 0x5D * 8
    unicode_text = text.encode("utf-16-le")
    tail_fc = fib_size + len(unicode_text)
    cps = [0, len(text), len(text) + len(compressed_tail)]
    pcds = [struct.pack("<HIH", 0, fib_size, 0), struct.pack("<HIH", 0, 0x40000000 | (tail_fc * 2), 0)]
    pieces = 2 if compressed_tail else 1
    plc = struct.pack(f"<{pieces + 1}I", *cps[: pieces + 1]) + b"".join(pcds[:pieces])
    table = b"\x02" + struct.pack("<I", len(plc)) + plc
    fc_lcb[33] = (0, len(table))
    if template:
        strings = ["", template] + [""] * 16
        sttb = struct.pack("<HHH", 0xFFFF, len(strings), 0) + b"".join(
            struct.pack("<H", len(s)) + s.encode("utf-16-le") for s in strings
        )
        fc_lcb[32] = (len(table), len(sttb))
        table += sttb
    pairs = [0] * (0x5D * 2)
    for index, (fc, lcb) in fc_lcb.items():
        pairs[2 * index : 2 * index + 2] = [fc, lcb]
    fib = (
        struct.pack("<HHHHHH", 0xA5EC, 0x00C1, 0, 0x0411, 0, flags)
        + bytes(20)
        + struct.pack("<H", 14)
        + bytes(28)
        + struct.pack("<H", 22)
        + bytes(88)
        + struct.pack("<H", 0x5D)
        + struct.pack(f"<{0x5D * 2}I", *pairs)
    )
    assert len(fib) == fib_size
    return {"WordDocument": fib + unicode_text + compressed_tail.encode("cp1252"), "1Table": table}


def biff(record_type: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", record_type, len(data)) + data


def bof(substream: int, version: int = 0x0600) -> bytes:
    return biff(0x0809, struct.pack("<HH", version, substream) + bytes(12))


def workbook(*, sheet_type: int = 0, extra_globals: bytes = b"", version: int = 0x0600) -> bytes:
    """Globals (BOF, extras, one BOUNDSHEET, EOF) and the sheet's substream."""
    sheet_name = b"\x06\x00Sheet1"
    globals_size = len(bof(5)) + len(extra_globals) + 4 + 6 + len(sheet_name) + 4
    boundsheet = biff(0x0085, struct.pack("<IBB", globals_size, 0, sheet_type) + sheet_name)
    sheet_bof = 0x40 if sheet_type == 1 else 0x10
    return (
        bof(5, version)
        + extra_globals
        + boundsheet
        + biff(0x000A)
        + bof(sheet_bof, version)
        + biff(0x0203, bytes(14))  # a NUMBER cell
        + biff(0x000A)
    )


def ppt_atom(record_type: int, data: bytes, instance: int = 0) -> bytes:
    return struct.pack("<HHI", instance << 4, record_type, len(data)) + data


def ppt_container(record_type: int, children: bytes) -> bytes:
    return struct.pack("<HHI", 0x000F, record_type, len(children)) + children


def ppt_streams(
    document_children: bytes = b"",
    *,
    extra_top_level: bytes = b"",
    persist_offset: int = 0,
    token: int = 0xE391C05F,
) -> dict[str, bytes]:
    """A DocumentContainer, any extra top-level records, a persist directory, a UserEditAtom."""
    document = ppt_container(0x03E8, document_children) + extra_top_level
    persist = ppt_atom(0x1772, struct.pack("<II", 1 | (1 << 20), persist_offset))
    user_edit_offset = len(document) + len(persist)
    user_edit = ppt_atom(0x0FF5, struct.pack("<IHBBIIIIHH", 0, 0, 0, 3, 0, len(document), 1, 2, 1, 0))
    current_user = ppt_atom(0x0FF6, struct.pack("<III", 0x14, token, user_edit_offset) + bytes(8))
    return {"PowerPoint Document": document + persist + user_edit, "Current User": current_user}


def write(tmp_path: Path, name: str, clsid: uuid.UUID | None, tree: dict[str, bytes]) -> Path:
    path = tmp_path / name
    write_compound_file(path, clsid, tree)
    return path


def sanitize(src: Path, **options: str) -> tuple[Path, dict[str, tuple[str, int]]]:
    """The output path and {construct: (action, count)}."""
    dst = src.with_name("out-" + src.name)
    report = OleRebuild().sanitize(src, dst, options, Limits())
    return dst, {f.construct: (f.action, f.count) for f in report.findings}


def refusal(src: Path, limits: Limits | None = None) -> str:
    dst = src.with_name("out-" + src.name)
    with pytest.raises(SanitizeError) as caught:
        OleRebuild().sanitize(src, dst, {}, limits or Limits())
    assert not dst.exists()
    assert [p.name for p in src.parent.iterdir() if p.name.startswith((".out-", "out-"))] == []
    return caught.value.code


def streams_of(path: Path) -> dict[str, bytes]:
    with olefile.OleFileIO(str(path)) as ole:
        return {"/".join(p): ole.openstream(p).read() for p in ole.listdir()}


def assert_independently_clean(path: Path, allowed: set[str]) -> None:
    """oletools finds no VBA, XLM, embedded object or DDE; olefile sees only ``allowed`` streams."""
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        parser = VBA_Parser(str(path))
        try:
            assert not parser.detect_vba_macros()
            assert not parser.detect_xlm_macros()
        finally:
            parser.close()
        indicators = {i.id: i.value for i in oleid.OleID(str(path)).check()}
        assert (indicators["vba"], indicators["xlm"], indicators["ObjectPool"]) == ("No", "No", False)
        assert indicators["encrypted"] is False
        assert not embedded_package_found(path)
        assert msodde.process_file(str(path), msodde.FIELD_FILTER_BLACKLIST).strip() == ""
    with olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT) as ole:
        entries = ole.listdir(streams=True, storages=True)
        assert all(len(e) == 1 for e in entries), "no storage may survive"
        assert {e[0] for e in entries} <= allowed


def embedded_package_found(path: Path) -> bool:
    """Whether oleobj extracts an embedded OLE package (into a scratch folder beside ``path``)."""
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        _stream_errors, _dump_errors, dumped = oleobj.process_file(
            str(path), None, str(path.parent / "oleobj")
        )
    return bool(dumped)


def vba_detected(path: Path) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parser = VBA_Parser(str(path))
        try:
            return bool(parser.detect_vba_macros())
        finally:
            parser.close()


# ── the contract ─────────────────────────────────────────────────────────────────────


class TestOleContract(RebuildContract):
    def make_sanitizer(self) -> Sanitizer:
        return OleRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        tree = {"Workbook": workbook(extra_globals=biff(OBPROJ)), "\x01CompObj": b"c", **SUMMARY}
        tree |= {f"_VBA_PROJECT_CUR/{k}": v for k, v in VBA_PROJECT.items()}
        return write(tmp_path, "in.xls", EXCEL_CLSID, tree)


# ── Word ─────────────────────────────────────────────────────────────────────────────


def test_doc_loses_macros_and_objects_and_keeps_its_streams_byte_for_byte(tmp_path: Path) -> None:
    text = "住民票の写しの交付について\r\x13 EMBED Package \x14\x01\x15\r"
    kept = word_streams(text) | {"Data": b"pictures" * 600, "\x01CompObj": b"compobj"}
    tree = kept | SUMMARY | {f"Macros/{k}": v for k, v in VBA_PROJECT.items()}
    tree |= {
        "ObjectPool/_1572085698/\x01Ole10Native": OLE10_NATIVE,
        "ObjectPool/_1572085698/\x03ObjInfo": b"\0" * 6,
    }
    src = write(tmp_path, "in.doc", WORD_CLSID, tree)
    assert vba_detected(src)

    dst, findings = sanitize(src)

    assert streams_of(dst) == kept
    assert findings == {
        "ole.vba_macros": ("removed", 1),
        "ole.embedded_object": ("removed", 1),
        "ole.metadata": ("removed", 2),
        "ole.embed_field": ("kept", 1),
    }
    assert_independently_clean(dst, set(kept))


def test_doc_keeps_only_the_table_stream_its_fib_names(tmp_path: Path) -> None:
    streams = word_streams("本文")
    src = write(tmp_path, "in.doc", WORD_CLSID, streams | {"0Table": b"stale"})
    dst, findings = sanitize(src)
    assert set(streams_of(dst)) == {"WordDocument", "1Table"}
    assert findings == {"ole.unlisted_entry": ("dropped", 1)}


def test_metadata_is_kept_on_request(tmp_path: Path) -> None:
    src = write(tmp_path, "in.doc", WORD_CLSID, word_streams("本文") | SUMMARY)
    dst, findings = sanitize(src, metadata="keep")
    assert SUMMARY.items() <= streams_of(dst).items()
    assert "ole.metadata" not in findings


@pytest.mark.parametrize(
    ("text", "tail", "code"),
    [
        ('\x13DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe"\x15', "", "ole.dde_field"),
        ('\x13 dde cmd "/c calc" \x14result\x15', "", "ole.dde_field"),
        ("\x13 IF 1 = 1 \x13DDE cmd x\x15 \x15", "", "ole.dde_field"),
        ("before \x13DD", 'EAUTO c:\\cmd.exe "x"\x15', "ole.dde_field"),
        ('\x13 INCLUDEPICTURE "http://example.invalid/p.png" \\d \x14\x01\x15', "", "ole.external_field"),
        ('\x13INCLUDETEXT "\\\\\\\\host\\\\share\\\\a.doc"\x15', "", "ole.external_field"),
        ('\x13 LINK Excel.Sheet.8 "C:\\\\a.xls" "" \\a \x15', "", "ole.external_field"),
        ("\x13 \x13 QUOTE 68 68 69 \x15 c:\\\\cmd.exe \x15", "", "ole.external_field"),
    ],
)
def test_fields_that_run_or_fetch_something_are_refused(
    tmp_path: Path, text: str, tail: str, code: str
) -> None:
    src = write(tmp_path, "in.doc", WORD_CLSID, word_streams(text, compressed_tail=tail))
    assert refusal(src) == code


def test_harmless_fields_pass(tmp_path: Path) -> None:
    text = '\x13 HYPERLINK "https://www.example.jp/" \x14リンク\x15 \x13 PAGE \x14 1\x15 \x13EQ \\o\\ad(\\s\\up 10(とうきょう),東京)\x15'
    src = write(tmp_path, "in.doc", WORD_CLSID, word_streams(text))
    dst, findings = sanitize(src)
    assert findings == {}
    assert streams_of(dst) == word_streams(text)


@pytest.mark.parametrize("flags", [0x0200 | 0x0100, 0x0200 | 0x0100 | 0x8000])
def test_encrypted_doc_is_refused(tmp_path: Path, flags: int) -> None:
    src = write(tmp_path, "in.doc", WORD_CLSID, word_streams("secret", flags=flags))
    assert refusal(src) == "office.encrypted"


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ("\\\\attacker.example\\share\\t.dotm", "ole.external_template"),
        ("https://attacker.example/t.dotm", "ole.external_template"),
        ("C:\\Users\\a\\AppData\\Roaming\\Microsoft\\Templates\\Normal.dotm", None),
    ],
)
def test_templates_on_remote_paths_are_refused(tmp_path: Path, template: str, code: str | None) -> None:
    src = write(tmp_path, "in.doc", WORD_CLSID, word_streams("本文", template=template))
    if code is None:
        sanitize(src)
    else:
        assert refusal(src) == code


def test_word_6_is_refused_as_old(tmp_path: Path) -> None:
    streams = word_streams("old")
    streams["WordDocument"] = b"\xdc\xa5" + streams["WordDocument"][2:]
    assert refusal(write(tmp_path, "in.doc", WORD_CLSID, streams)) == "ole.old_format"


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s | {"WordDocument": s["WordDocument"][:100]},
        lambda s: {"WordDocument": s["WordDocument"]},
        lambda s: s | {"1Table": s["1Table"][:9]},
        lambda s: s | {"WordDocument": s["WordDocument"][:-4]},
        lambda s: s | {"WordDocument": b"\0\0" + s["WordDocument"][2:]},
    ],
    ids=["short FIB", "no table stream", "cut piece table", "text past the end", "not a FIB"],
)
def test_damaged_doc_is_refused_as_malformed(tmp_path: Path, damage: object) -> None:
    assert callable(damage)
    src = write(tmp_path, "in.doc", WORD_CLSID, damage(word_streams("本文です")))
    assert refusal(src) == "ole.malformed"


# ── Excel ────────────────────────────────────────────────────────────────────────────


def test_xls_loses_vba_and_objects_and_obproj_is_neutralised_in_place(tmp_path: Path) -> None:
    original = workbook(extra_globals=biff(0x0042, b"\xe4\x04") + biff(OBPROJ))
    tree = {"Workbook": original, "\x01CompObj": b"c", **SUMMARY}
    tree |= {f"_VBA_PROJECT_CUR/{k}": v for k, v in VBA_PROJECT.items()}
    tree |= {"MBD0009CF7B/\x01Ole10Native": OLE10_NATIVE, "MBD0009CF7B/\x01CompObj": b"c"}
    src = write(tmp_path, "in.xls", EXCEL_CLSID, tree)
    assert vba_detected(src)

    dst, findings = sanitize(src)

    rebuilt = streams_of(dst)["Workbook"]
    changed = [i for i in range(len(original)) if original[i] != rebuilt[i]]
    obproj_at = original.index(biff(OBPROJ))
    assert len(rebuilt) == len(original) and changed == [obproj_at, obproj_at + 1]
    assert struct.unpack_from("<H", rebuilt, obproj_at) == (NEUTRAL_RECORD,)
    assert findings == {
        "ole.vba_macros": ("removed", 1),
        "ole.embedded_object": ("removed", 1),
        "ole.metadata": ("removed", 2),
        "ole.vba_project_record": ("neutralised", 1),
    }
    assert_independently_clean(dst, {"Workbook", "\x01CompObj"})


@pytest.mark.parametrize(
    ("book", "code"),
    [
        (workbook(sheet_type=1), "ole.xlm_macro"),
        (workbook(sheet_type=6), "ole.xlm_macro"),
        (workbook().replace(bof(0x10), bof(0x40)), "ole.xlm_macro"),
        (workbook(extra_globals=biff(0x002F, bytes(6))), "office.encrypted"),
        (workbook(extra_globals=biff(0x01AE, struct.pack("<HH", 0, 3) + b"\x00cmd")), "ole.dde_link"),
        (workbook(extra_globals=biff(0x0023, struct.pack("<H", 0x0010) + bytes(6))), "ole.dde_link"),
        (workbook(extra_globals=biff(0x01AE, struct.pack("<HH", 1, 5) + b"\x00a.xls")), "ole.external_link"),
        (workbook(extra_globals=biff(0x0876, bytes(20))), "ole.external_link"),
        (workbook(version=0x0500), "ole.old_format"),
        (workbook(sheet_type=9), "ole.malformed"),
        (workbook()[:-3], "ole.malformed"),
        (biff(0x0042, b"\xe4\x04") + workbook(), "ole.malformed"),
    ],
    ids=[
        "macro sheet",
        "VBA module sheet",
        "macro substream behind a worksheet BOUNDSHEET",
        "FILEPASS",
        "DDE SUPBOOK",
        "OLE EXTERNNAME",
        "other workbook",
        "data connection",
        "BIFF5",
        "unknown sheet type",
        "truncated record",
        "no leading BOF",
    ],
)
def test_unsafe_or_unreadable_workbooks_are_refused(tmp_path: Path, book: bytes, code: str) -> None:
    assert refusal(write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book})) == code


def test_excel_5_book_with_a_macro_sheet_names_the_macro(tmp_path: Path) -> None:
    book = workbook(sheet_type=1, version=0x0500)
    assert refusal(write(tmp_path, "in.xls", EXCEL_CLSID, {"Book": book})) == "ole.xlm_macro"


def test_self_and_add_in_references_pass(tmp_path: Path) -> None:
    references = biff(0x01AE, struct.pack("<HH", 1, 0x0401)) + biff(0x01AE, struct.pack("<HH", 1, 0x3A01))
    src = write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": workbook(extra_globals=references)})
    assert sanitize(src)[1] == {}


# ── PowerPoint ───────────────────────────────────────────────────────────────────────

_INTERACTIVE = 0x0FF3


def interactive_info(action: int) -> bytes:
    return ppt_container(
        0x0FF2, ppt_atom(_INTERACTIVE, struct.pack("<IIBBBBB3s", 0, 1, action, 0, 0, 0, 0, b""))
    )


def test_plain_ppt_keeps_its_streams_unchanged(tmp_path: Path) -> None:
    streams = ppt_streams(interactive_info(4)) | {"Pictures": b"\x00" * 5000}
    src = write(tmp_path, "in.ppt", PPT_CLSID, streams | SUMMARY | {"Macros": b"\0\0\0\0"})
    dst, findings = sanitize(src)
    assert streams_of(dst) == streams
    assert findings == {"ole.metadata": ("removed", 2), "ole.vba_macros": ("removed", 1)}
    assert_independently_clean(dst, set(streams))


@pytest.mark.parametrize(
    ("streams", "code"),
    [
        (
            ppt_streams(
                ppt_container(0x07D0, ppt_container(0x03FF, ppt_atom(0x0400, struct.pack("<III", 1, 1, 2))))
            ),
            "ole.ppt_vba",
        ),
        (ppt_streams(extra_top_level=ppt_atom(0x1011, bytes(4) + b"x\x9c")), "ole.active_content"),
        (ppt_streams(ppt_container(0x0409, ppt_container(0x0FCC, b""))), "ole.active_content"),
        (ppt_streams(interactive_info(2)), "ole.active_content"),
        (ppt_streams(interactive_info(5)), "ole.active_content"),
        (ppt_streams(ppt_container(0x0409, ppt_container(0x1007, b""))), "ole.external_link"),
        (ppt_streams(ppt_container(0x2F14, b"")), "office.encrypted"),
        (ppt_streams(token=0xF3D1C4DF), "office.encrypted"),
        # An object hidden in an atom's payload, reachable only through a persist offset.
        (ppt_streams(ppt_atom(0x0FBA, ppt_atom(0x0FC3, bytes(24))), persist_offset=16), "ole.malformed"),
        (ppt_streams(persist_offset=3), "ole.malformed"),
        ({"PowerPoint Document": ppt_container(0x03E8, b"")[:-1] + b"\x01"}, "ole.malformed"),
    ],
    ids=[
        "VBAInfo",
        "ExOleObjStg",
        "embedded object",
        "run program",
        "OLE verb",
        "linked movie",
        "CryptSession10",
        "encrypted Current User",
        "record hidden in a payload",
        "persist offset inside a header",
        "no Current User",
    ],
)
def test_unsafe_or_unreadable_presentations_are_refused(
    tmp_path: Path, streams: dict[str, bytes], code: str
) -> None:
    assert refusal(write(tmp_path, "in.ppt", PPT_CLSID, streams)) == code


def test_encrypted_summary_stream_means_encrypted(tmp_path: Path) -> None:
    src = write(tmp_path, "in.ppt", PPT_CLSID, ppt_streams() | {"EncryptedSummary": b"x"})
    assert refusal(src) == "office.encrypted"


# ── the compound file itself ─────────────────────────────────────────────────────────


def test_other_applications_and_mixtures_are_refused(tmp_path: Path) -> None:
    mixed = word_streams("本文") | {"Workbook": workbook()}
    assert refusal(write(tmp_path, "mixed.doc", WORD_CLSID, mixed)) == "ole.malformed"
    assert refusal(write(tmp_path, "msg.doc", None, {"__substg1.0_0037001F": b"s"})) == "ole.malformed"


def test_a_foreign_root_clsid_is_replaced_by_the_applications(tmp_path: Path) -> None:
    src = write(tmp_path, "in.xls", uuid.UUID(int=7), {"Workbook": workbook()})
    dst, findings = sanitize(src)
    assert findings == {"ole.root_clsid": ("repaired", 1)}
    with olefile.OleFileIO(str(dst)) as ole:
        assert ole.root.clsid.lower() == str(EXCEL_CLSID)


def test_directory_entries_are_bounded_before_streams_are_read(tmp_path: Path) -> None:
    tree = {"Workbook": workbook()} | {f"junk{i}": b"" for i in range(20)}
    src = write(tmp_path, "in.xls", EXCEL_CLSID, tree)
    assert refusal(src, Limits(archive_members=10)) == "ole.limit"
    assert refusal(src, Limits(max_file_size=1000)) == "input.too_large"


def test_an_output_that_does_not_read_back_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def losing_a_stream(clsid: uuid.UUID | None, tree: dict[str, bytes]) -> bytes:
        return compound_file_bytes(clsid, {k: v for k, v in tree.items() if k != "\x01CompObj"})

    monkeypatch.setattr(rebuild, "compound_file_bytes", losing_a_stream)
    src = write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": workbook(), "\x01CompObj": b"c"})
    with pytest.raises(VerifyError) as caught:
        OleRebuild().sanitize(src, tmp_path / "out.xls", {}, Limits())
    assert caught.value.code == "ole.verify_failed"
    assert not (tmp_path / "out.xls").exists()


def test_an_output_that_cleaning_would_still_change_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fmt = next(f for f in rebuild.FORMATS if f.type_name == "xls")
    calls: list[int] = []

    def forgets_to_neutralise_once(
        streams: Mapping[str, bytes], links: str
    ) -> tuple[dict[str, bytes], list[Finding]]:
        calls.append(1)
        return (dict(streams), []) if len(calls) == 1 else fmt.clean(streams, links)

    monkeypatch.setattr(rebuild, "FORMATS", (replace(fmt, clean=forgets_to_neutralise_once),))
    src = write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": workbook(extra_globals=biff(OBPROJ))})
    with pytest.raises(VerifyError) as caught:
        OleRebuild().sanitize(src, tmp_path / "out.xls", {}, Limits())
    assert caught.value.code == "ole.verify_failed"
    assert len(calls) == 2


# ── links, and the VBA that is not there ────────────────────────────────────────────


def word_field(instruction: str, shown: str = "表示") -> str:
    return f"\x13{instruction}\x14{shown}\x15"


@pytest.mark.parametrize(
    ("instruction", "code"),
    [
        (r' HYPERLINK \o "tip" "\\\\evil\\share\\x.docx" ', "ole.external_link"),
        (r' HYPERLINK \t "_blank" "\\\\evil\\share\\x.docx" ', "ole.external_link"),
        (r"   hyperlink    \\\\evil\\share\\x.docx ", "ole.external_link"),
        (r" HYPERLINK \\evil\share\x.docx ", "ole.external_link"),
        (r' HYPERLINK "\\\\evil\\share\\x.docx" ', "ole.external_link"),
        (r' HYPERLINK "file:///C:/Windows/System32/calc.exe" ', "ole.external_link"),
        (r' HYPERLINK \l "bm" "x.docx" ', "ole.external_link"),
        (' HYPERLINK "' + word_field(" REF evil ", r"\\evil\x") + '" ', "ole.external_field"),
        (r' INCLUDEPICTURE \d "\\\\evil\\p.png" \* MERGEFORMATINET ', "ole.external_field"),
        (r' RD "\\\\evil\\b.doc" ', "ole.external_field"),
        (r" MACROBUTTON FileOpen クリック ", "ole.external_field"),
    ],
    ids=[
        "tooltip first",
        "frame first",
        "lower case, unquoted UNC",
        "unquoted single UNC",
        "quoted UNC",
        "file URL",
        "relative after bookmark",
        "nested target",
        "include picture \\d",
        "RD",
        "MACROBUTTON",
    ],
)
def test_doc_fields_reaching_out_are_refused_in_every_spelling(
    tmp_path: Path, instruction: str, code: str
) -> None:
    """The text stays byte for byte in a .doc, so such a document is refused (PDF化 is next)."""
    src = write(tmp_path, "in.doc", WORD_CLSID, word_streams("前 " + word_field(instruction) + " 後"))
    assert refusal(src) == code


def test_doc_web_hyperlinks_follow_the_links_option(tmp_path: Path) -> None:
    text = word_field(r' HYPERLINK \o "市のサイト" "https://www.city.example.lg.jp/" \t "_blank" ')
    text += word_field(r' HYPERLINK \l "_Toc1" \h ', "目次")
    streams = word_streams(text)
    src = write(tmp_path, "in.doc", WORD_CLSID, streams)
    dst, _ = sanitize(src)
    assert streams_of(dst) == streams  # read back with olefile: the field codes are untouched
    with pytest.raises(SanitizeError) as caught:
        word.clean_word(streams, links="remove")
    assert caught.value.code == "ole.external_link"


CSTRING = 0x0FBA


def ex_hyperlink(target: str | None, location: str = "") -> bytes:
    """An ExObjList holding one ExHyperlinkContainer (atom, friendly name, target, location)."""
    children = ppt_atom(0x0FD3, struct.pack("<I", 1)) + ppt_atom(CSTRING, "リンク".encode("utf-16-le"), 0)
    if target is not None:
        children += ppt_atom(CSTRING, target.encode("utf-16-le"), 1)
    if location:
        children += ppt_atom(CSTRING, location.encode("utf-16-le"), 3)
    return ppt_container(0x0409, ppt_atom(0x040A, struct.pack("<I", 1)) + ppt_container(0x0FD7, children))


@pytest.mark.parametrize(
    "target",
    [
        "\\\\evil\\share\\x.pptx",
        "file:///C:/Windows/System32/calc.exe",
        "javascript:alert(1)",
        "x.pptx",
        "http://evil.example/\u202ex",
    ],
)
def test_ppt_hyperlinks_the_policy_refuses_are_refused(tmp_path: Path, target: str) -> None:
    src = write(tmp_path, "in.ppt", PPT_CLSID, ppt_streams(ex_hyperlink(target) + interactive_info(4)))
    assert refusal(src) == "ole.external_link"


def test_ppt_web_hyperlinks_and_jumps_follow_the_links_option(tmp_path: Path) -> None:
    links = ex_hyperlink("https://www.city.example.lg.jp/") + ex_hyperlink(None, "256,1,スライド 1")
    streams = ppt_streams(links + interactive_info(4))
    dst, _ = sanitize(write(tmp_path, "in.ppt", PPT_CLSID, streams))
    assert streams_of(dst) == streams
    with pytest.raises(SanitizeError) as caught:
        powerpoint.clean_powerpoint(streams, links="remove")
    assert caught.value.code == "ole.external_link"
    assert powerpoint.clean_powerpoint(ppt_streams(ex_hyperlink(None, "256,1,x")), links="remove")


def vba_info(persist_id_ref: int, has_macros: int) -> bytes:
    return ppt_container(0x03FF, ppt_atom(0x0400, struct.pack("<III", persist_id_ref, has_macros, 2), 2))


def test_an_empty_vba_info_record_is_no_macro(tmp_path: Path) -> None:
    """What LibreOffice writes into every presentation (MS-PPT: persistIdRef 0, fHasMacros 0)."""
    streams = ppt_streams(ppt_container(0x07D0, vba_info(0, 0)))
    dst, _ = sanitize(write(tmp_path, "in.ppt", PPT_CLSID, streams))
    assert streams_of(dst) == streams


@pytest.mark.parametrize(
    ("persist_id_ref", "has_macros"), [(1, 1), (1, 0), (0, 1)], ids=["project", "project, flag off", "flag"]
)
def test_vba_info_naming_a_project_is_a_macro(tmp_path: Path, persist_id_ref: int, has_macros: int) -> None:
    children = ppt_container(0x07D0, vba_info(persist_id_ref, has_macros))
    storage = ppt_atom(0x1011, struct.pack("<I", 64) + b"x\x9c" + b"\x00" * 8)  # ExOleObjStg, compressed
    streams = ppt_streams(children, extra_top_level=storage, persist_offset=8 + len(children))
    assert refusal(write(tmp_path, "in.ppt", PPT_CLSID, streams)) == "ole.ppt_vba"


def test_vba_info_that_is_not_one_empty_atom_is_a_macro(tmp_path: Path) -> None:
    odd = ppt_container(0x03FF, ppt_atom(0x0400, bytes(12)) + ppt_atom(0x0FBA, b"x\x00"))
    for container in (odd, ppt_container(0x03FF, b""), ppt_container(0x03FF, ppt_atom(0x0400, bytes(8)))):
        src = write(tmp_path, "in.ppt", PPT_CLSID, ppt_streams(ppt_container(0x07D0, container)))
        assert refusal(src) == "ole.ppt_vba"


@pytest.mark.slow
def test_a_libreoffice_presentation_is_rebuilt_not_converted(tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice is not None, "LibreOffice is not installed; `make test` installs it"
    pptx = ob.build(tmp_path / "slides.pptx", "pptx")
    subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "ppt", "--outdir", str(tmp_path), str(pptx)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    src = tmp_path / "slides.ppt"
    records, _ = powerpoint.walk(streams_of(src)["PowerPoint Document"])
    assert any(r.type == powerpoint.VBA_INFO_ATOM for r in records)  # the record that misled us

    class RebuildThenPdf:
        def rule_for(self, type_name: str) -> Rule | None:
            return Rule(("rebuild", "pdf"))

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = process_file(src, src.name, scratch, RebuildThenPdf(), Limits(), default_registry())
    assert outcome.verdict == "released", outcome.reason
    assert outcome.method == "rebuild"
    assert outcome.output_path is not None and not vba_detected(outcome.output_path)


@pytest.mark.parametrize(
    ("instruction", "refused"),
    [
        (' HYPERLINK "http://tika.apache.org/" \\h \x01', False),  # as Word writes every hyperlink
        (' HYPERLINK  \\l "OnMainHeading" \x01', False),  # a jump inside the document
        (' HYPERLINK "\\\\\\\\evil\\\\share\\\\x.doc" \x01', True),
        (' HYPERLINK "file:///C:/x" \x08', True),
        (' HYPERLINK "http://ok\x01.example/" ', True),  # an anchor inside a target is no joiner
    ],
)
def test_object_anchors_are_not_words_of_a_field_instruction(instruction: str, refused: bool) -> None:
    text = f"before \x13{instruction}\x14shown\x15 after"
    if refused:
        with pytest.raises(PolicyError, match=r"ole\.external_link"):
            word.check_fields(text)
    else:
        assert word.check_fields(text) == []
