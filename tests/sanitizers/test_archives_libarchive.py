"""7z, RAR, LZH, tar, compressed streams, ISO and cab: read by libarchive, rebuilt like a ZIP.

Archives are built here with the real tools (7z from p7zip, genisoimage, Python's tarfile,
libarchive's own writer); RAR, LZH and cabinet sets, which no free tool writes, come from
libarchive's test suite (fixtures/archives/README.md).
"""

from __future__ import annotations

import gzip
import io
import lzma
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import libarchive
import pytest

from sanitizers.archives import ArchiveRebuild
from sanitizers.archives.archivebuild import content_name
from sanitizers.archives.members import REMOVED_LIST_NAME
from sanitizers.base import Limits, MiB
from sanitizers.detect import detect
from sanitizers.errors import REASONS, SanitizeError
from sanitizers.pipeline import Outcome, Rule, process_file
from sanitizers.verification import Expectation, expectation_for, verify_output
from tests.sanitizers.test_archives import REGISTRY, OwnTypesPolicy, members_of, zip_bytes

FIXTURES = Path(__file__).parents[2] / "fixtures" / "archives"
PAGE = b'<p onclick="x()">page</p><script>alert(1)</script>'


def judge(
    tmp_path: Path, data: bytes, name: str, limits: Limits | None = None,
    options: Mapping[str, str] | None = None, policy: OwnTypesPolicy | None = None,
) -> Outcome:  # fmt: skip
    """The file through the whole pipeline, as the daemon runs it, under its own name."""
    src = tmp_path / "input"
    src.write_bytes(data)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    policy = policy or OwnTypesPolicy()
    if options:
        type_name = detect(src, name).type
        policy = replace(policy, overrides={**policy.overrides, type_name: Rule(("rebuild",), options)})
    outcome = process_file(src, name, scratch, policy, limits or Limits(), REGISTRY)
    left = sorted(p.name for p in scratch.iterdir())
    assert left == (["output-rebuild"] if outcome.verdict == "released" else []), left
    return outcome


def refused(tmp_path: Path, data: bytes, name: str, limits: Limits | None = None) -> str:
    outcome = judge(tmp_path, data, name, limits)
    assert outcome.verdict == "rejected" and outcome.reason is not None
    return outcome.reason.code


def zip_members(outcome: Outcome) -> dict[str, bytes]:
    assert outcome.verdict == "released" and outcome.output_path is not None, outcome.reason
    assert outcome.output is not None and outcome.output.type == "zip"
    with zipfile.ZipFile(outcome.output_path) as archive:
        for info in archive.infolist():
            assert info.filename.isascii() or info.flag_bits & 0x800, info.filename
        return {info.filename: archive.read(info) for info in archive.infolist()}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# ── building archives with the real tools ────────────────────────────────────────────


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: `make bootstrap` installs it"
    return path


def _tree(folder: Path, files: Mapping[str, bytes]) -> Path:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def seven_zip(tmp_path: Path, files: Mapping[str, bytes], *switches: str) -> bytes:
    source = _tree(tmp_path / "7z-source", files)
    out = tmp_path / "built.7z"
    out.unlink(missing_ok=True)
    subprocess.run(
        [_tool("7z"), "a", "-bd", "-bso0", "-bsp0", "-t7z", *switches, str(out), *sorted(files)],
        cwd=source, check=True,
    )  # fmt: skip
    return out.read_bytes()


def iso_image(tmp_path: Path, files: Mapping[str, bytes]) -> bytes:
    source = _tree(tmp_path / "iso-source", files)
    out = tmp_path / "built.iso"
    subprocess.run(
        [_tool("genisoimage"), "-quiet", "-J", "-R", "-input-charset", "utf-8", "-o", str(out), str(source)],
        check=True,
    )
    return out.read_bytes()


def tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w", **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, **kwargs) as tar:  # type: ignore[call-overload]
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
    return buffer.getvalue()


def special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def libarchive_tar(tmp_path: Path, files: Mapping[str, bytes], filter_name: str | None) -> bytes:
    """A tar written by libarchive itself (the only writer of zstd at hand)."""
    out = tmp_path / "libarchive-written"
    with libarchive.file_writer(str(out), "pax_restricted", filter_name) as archive:
        for name, data in files.items():
            archive.add_file_from_memory(name, len(data), data)
    return out.read_bytes()


# ── members rebuilt like a ZIP's ─────────────────────────────────────────────────────


def test_7z_members_are_sanitised_and_come_out_as_zip(tmp_path: Path) -> None:
    data = seven_zip(
        tmp_path,
        {"資料/案内.html": PAGE, "資料/一覧.csv": "名前,=1+1\r\n".encode("cp932"), "tool.exe": b"MZ"},
    )
    outcome = judge(tmp_path, data, "送付.7z")
    members = zip_members(outcome)
    assert sorted(members) == sorted(["資料/案内.html", "資料/一覧.csv", REMOVED_LIST_NAME])
    assert b"script" not in members["資料/案内.html"] and b"onclick" not in members["資料/案内.html"]
    assert members["資料/一覧.csv"] == "名前,'=1+1\r\n".encode("cp932")
    assert "tool.exe" in members[REMOVED_LIST_NAME].decode("utf-8-sig")
    assert outcome.output is not None and outcome.output.name == "送付.zip"
    found = {(f.construct, f.location) for f in outcome.findings}
    assert ("html.script", "資料/案内.html") in found


@pytest.mark.parametrize(
    ("name", "mode"), [("a.tar", "w"), ("a.tar.gz", "w:gz"), ("a.tbz2", "w:bz2"), ("a.tar.xz", "w:xz")]
)
def test_tar_in_every_compression_is_rebuilt(tmp_path: Path, name: str, mode: str) -> None:
    data = tar_bytes([("docs/page.html", PAGE), ("docs/notes.txt", b"notes")], mode)
    members = zip_members(judge(tmp_path, data, name))
    assert sorted(members) == ["docs/notes.txt", "docs/page.html"]
    assert b"script" not in members["docs/page.html"]


def test_zstd_tar_written_by_libarchive_is_rebuilt(tmp_path: Path) -> None:
    data = libarchive_tar(tmp_path, {"a.txt": b"alpha", "b/c.txt": b"gamma"}, "zstd")
    assert detect_type(tmp_path, data, "a.tar.zst") == "zstd"
    assert zip_members(judge(tmp_path, data, "a.tar.zst")) == {"a.txt": b"alpha", "b/c.txt": b"gamma"}


def test_old_v7_tar_is_recognised_by_its_checksum(tmp_path: Path) -> None:
    data = tar_bytes([("old.txt", b"from 1979")], format=tarfile.USTAR_FORMAT)
    v7 = bytearray(data)
    v7[257:265] = bytes(8)  # no ustar magic and version: a V7 header, checksum still right
    header = v7[:512]
    header[148:156] = b" " * 8
    v7[148:156] = f"{sum(header):06o}\0 ".encode()
    assert detect_type(tmp_path, bytes(v7), "old.tar") == "tar"
    assert zip_members(judge(tmp_path, bytes(v7), "old.tar")) == {"old.txt": b"from 1979"}


def test_iso_image_with_joliet_names_is_rebuilt(tmp_path: Path) -> None:
    data = iso_image(tmp_path, {"報告書.txt": "報告".encode("cp932"), "web/page.html": PAGE})
    members = zip_members(judge(tmp_path, data, "disc.iso"))
    assert sorted(members) == ["web/", "web/page.html", "報告書.txt"]
    assert b"script" not in members["web/page.html"]


def test_nested_tar_gz_in_7z_in_zip_is_rebuilt_at_every_level(tmp_path: Path) -> None:
    inner_tar = tar_bytes([("deep/page.html", PAGE)], "w:gz")
    middle = seven_zip(tmp_path, {"logs.tar.gz": inner_tar, "readme.txt": b"read me"})
    outer = zip_bytes([("delivery/bundle.7z", middle)])
    members = zip_members(judge(tmp_path, outer, "delivery.zip"))
    assert sorted(members) == ["delivery/bundle.zip"]  # the 7z comes out as a ZIP, named so
    with zipfile.ZipFile(io.BytesIO(members["delivery/bundle.zip"])) as bundle:
        assert sorted(bundle.namelist()) == ["logs.tar.zip", "readme.txt"]
        with zipfile.ZipFile(io.BytesIO(bundle.read("logs.tar.zip"))) as logs:
            page = logs.read("deep/page.html")
    assert b"page" in page and b"script" not in page


def test_nesting_beyond_archive_depth_is_a_bomb(tmp_path: Path) -> None:
    inner = tar_bytes([("a.txt", b"a")], "w:gz")
    middle = seven_zip(tmp_path, {"inner.tgz": inner})
    assert refused(tmp_path, middle, "m.7z", Limits(archive_depth=1)) == "archive.bomb"


# ── names ────────────────────────────────────────────────────────────────────────────


def test_lzh_cp932_names_are_decoded(tmp_path: Path) -> None:
    members = zip_members(judge(tmp_path, fixture("test_read_format_lha_filename_cp932.lzh"), "名前.lzh"))
    assert sorted(members) == ["漢字.txt", "表.txt"]


def test_cab_cp932_names_keep_their_folder(tmp_path: Path) -> None:
    members = zip_members(judge(tmp_path, fixture("test_read_format_cab_filename_cp932.cab"), "x.cab"))
    assert sorted(members) == ["表だよ/一覧表.txt", "表だよ/漢字.txt"]


def test_tar_names_stored_as_cp932_are_decoded(tmp_path: Path) -> None:
    data = tar_bytes([("資料/表.txt", b"abc")], format=tarfile.GNU_FORMAT, encoding="cp932")
    assert zip_members(judge(tmp_path, data, "a.tar")) == {"資料/表.txt": b"abc"}


def test_undecodable_names_are_refused_or_renamed(tmp_path: Path) -> None:
    data = tar_bytes([("\udc81\udcff.txt", b"x")], format=tarfile.GNU_FORMAT, errors="surrogateescape")
    assert refused(tmp_path, data, "a.tar") == "archive.name_encoding"
    members = zip_members(judge(tmp_path, data, "a.tar", options={"undecodable_names": "rename"}))
    assert list(members) == ["_mukaika_renamed/0000.txt"]


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "C:/Windows/evil.txt", "a\\..\\evil.txt",
     "invoice\u202etxt.exe", "con.txt", "trailing. "],
)  # fmt: skip
def test_unsafe_names_refuse_the_archive(tmp_path: Path, name: str) -> None:
    assert (
        refused(tmp_path, tar_bytes([(name, b"x")], format=tarfile.PAX_FORMAT), "a.tar")
        == "archive.unsafe_path"
    )


def test_unsafe_names_in_7z_refuse_it(tmp_path: Path) -> None:
    data = seven_zip(tmp_path, {"good.txt": b"x", "con.txt": b"y"})
    assert refused(tmp_path, data, "a.7z") == "archive.unsafe_path"


def test_duplicate_and_case_variant_names_are_ambiguous(tmp_path: Path) -> None:
    data = tar_bytes([("a.txt", b"one"), ("A.TXT", b"two")])
    assert refused(tmp_path, data, "a.tar") == "archive.malformed"
    assert (
        refused(tmp_path, tar_bytes([("a", b"file"), ("a/b.txt", b"under it")]), "a.tar")
        == "archive.malformed"
    )


# ── links, devices, encryption, split sets ───────────────────────────────────────────


def test_links_and_devices_are_dropped_and_listed(tmp_path: Path) -> None:
    data = tar_bytes(
        [("real.txt", b"real"), special("soft.txt", tarfile.SYMTYPE, "/etc/passwd"),
         special("hard.txt", tarfile.LNKTYPE, "real.txt"), special("pipe", tarfile.FIFOTYPE),
         special("tty", tarfile.CHRTYPE)]
    )  # fmt: skip
    outcome = judge(tmp_path, data, "a.tar")
    members = zip_members(outcome)
    assert sorted(members) == [REMOVED_LIST_NAME, "real.txt"]
    listing = members[REMOVED_LIST_NAME].decode("utf-8-sig")
    for name in ("soft.txt", "hard.txt", "pipe", "tty"):
        assert name in listing
    assert "/etc/passwd" not in listing and REASONS["archive.not_a_file"].ja in listing
    dropped = sorted(f.location or "" for f in outcome.findings if f.construct == "archive.member")
    assert dropped == [f"{n} (archive.not_a_file)" for n in ("hard.txt", "pipe", "soft.txt", "tty")]


@pytest.mark.parametrize(
    ("fixture_name", "kept"),
    [("test_read_format_rar.rar", ["test.txt", "testdir/", "testdir/test.txt", "testemptydir/"]),
     ("test_read_format_lha_lh6.lzh", ["dir/", "dir2/", "file1.txt", "file2.txt"]),
     ("test_read_format_rar5_hardlink.rar", ["file.txt"]),
     ("test_read_format_rar5_unicode.rar", ["👋🌎.txt"])],
)  # fmt: skip
def test_rar_and_lzh_links_are_dropped(tmp_path: Path, fixture_name: str, kept: list[str]) -> None:
    members = zip_members(judge(tmp_path, fixture(fixture_name), fixture_name))
    assert sorted(members) == sorted([*kept, REMOVED_LIST_NAME])
    assert "archive.not_a_file" in members[REMOVED_LIST_NAME].decode("utf-8-sig")


def test_links_refuse_the_archive_when_members_must_all_pass(tmp_path: Path) -> None:
    data = tar_bytes([("real.txt", b"real"), special("soft", tarfile.SYMTYPE, "real.txt")])
    outcome = judge(tmp_path, data, "a.tar", options={"member_reject": "reject_archive"})
    assert outcome.reason is not None and outcome.reason.code == "archive.member_rejected"


@pytest.mark.parametrize("switches", [("-psecret",), ("-psecret", "-mhe=on")], ids=["data", "headers"])
def test_encrypted_7z_is_refused(tmp_path: Path, switches: tuple[str, ...]) -> None:
    data = seven_zip(tmp_path, {"secret.txt": b"secret " * 100}, *switches)
    assert refused(tmp_path, data, "a.7z") == "archive.encrypted"


@pytest.mark.parametrize(
    "fixture_name",
    ["test_read_format_rar4_encrypted.rar", "test_read_format_rar4_encrypted_filenames.rar",
     "test_read_format_rar5_encrypted.rar", "test_read_format_rar5_encrypted_filenames.rar"],
)  # fmt: skip
def test_encrypted_rar_is_refused_with_the_password_reason(tmp_path: Path, fixture_name: str) -> None:
    assert refused(tmp_path, fixture(fixture_name), fixture_name) == "archive.encrypted"


@pytest.mark.parametrize(
    "fixture_name",
    ["test_rar_multivolume_single_file.part1.rar", "test_read_format_rar5_multiarchive.part01.rar",
     "test_read_format_cab_multi.p1.cab"],
)  # fmt: skip
def test_a_volume_of_a_split_set_is_refused(tmp_path: Path, fixture_name: str) -> None:
    outcome = judge(tmp_path, fixture(fixture_name), fixture_name)
    assert outcome.reason is not None and outcome.reason.code == "archive.malformed"
    assert "split" in outcome.reason.message


def test_a_7z_volume_is_refused(tmp_path: Path) -> None:
    source = _tree(tmp_path / "src", {"big.bin.txt": bytes(range(256)) * 64})
    subprocess.run(
        [_tool("7z"), "a", "-bd", "-bso0", "-bsp0", "-mx0", "-v4k", str(tmp_path / "set.7z"), "big.bin.txt"],
        cwd=source, check=True,
    )  # fmt: skip
    first = (tmp_path / "set.7z.001").read_bytes()
    assert refused(tmp_path, first, "set.7z") == "archive.malformed"


# ── budgets: bytes produced, not declared ────────────────────────────────────────────


def test_solid_7z_bomb_is_refused(tmp_path: Path) -> None:
    data = seven_zip(tmp_path, {f"zeros{i}.txt": bytes(20 * MiB) for i in range(3)}, "-ms=on", "-mx9")
    assert len(data) < 100_000
    assert refused(tmp_path, data, "bomb.7z") == "archive.bomb"


def test_solid_7z_of_small_members_is_held_to_the_archive_ratio(tmp_path: Path) -> None:
    """Each member under the 1 MiB floor, together far beyond what the archive's size allows."""
    files = {f"part{i:02d}.txt": b"a" * (MiB - 1) for i in range(40)}
    data = seven_zip(tmp_path, files, "-ms=on", "-mx9")
    outcome = judge(tmp_path, data, "small.7z")
    assert outcome.reason is not None and outcome.reason.code == "archive.bomb"
    assert "archive_ratio" in outcome.reason.message


def test_gzip_bomb_is_counted_as_it_decompresses(tmp_path: Path) -> None:
    data = gzip.compress(bytes(300 * MiB), compresslevel=9)  # gzip declares no size worth believing
    assert refused(tmp_path, data, "zeros.txt.gz") == "archive.bomb"


def test_tar_beyond_the_member_count_is_a_bomb(tmp_path: Path) -> None:
    data = tar_bytes([(f"f{i}.txt", b"x") for i in range(12)], "w:gz")
    assert refused(tmp_path, data, "many.tgz", Limits(archive_members=10)) == "archive.bomb"


def test_tree_budget_spans_nested_archives(tmp_path: Path) -> None:
    inner = tar_bytes([("a.txt", b"a" * 600_000)], "w:gz")
    data = tar_bytes([("one.tgz", inner), ("two.tgz", inner)])
    assert zip_members(judge(tmp_path, data, "ok.tar", Limits(archive_total_size=1_300_000)))
    assert refused(tmp_path, data, "ok.tar", Limits(archive_total_size=1_100_000)) == "archive.bomb"


# ── a single compressed file, and output_format = "same" ────────────────────────────


def test_a_compressed_single_file_comes_out_as_its_sanitised_content(tmp_path: Path) -> None:
    outcome = judge(tmp_path, gzip.compress(PAGE), "page.html.gz")
    assert outcome.verdict == "released" and outcome.output is not None and outcome.output_path is not None
    assert (outcome.output.name, outcome.output.type) == ("page.html", "html")
    page = outcome.output_path.read_bytes()
    assert b"page" in page and b"script" not in page
    assert ("archive.compression", "removed") in {(f.construct, f.action) for f in outcome.findings}


def test_a_compressed_single_file_is_judged_by_its_own_name(tmp_path: Path) -> None:
    assert refused(tmp_path, gzip.compress(b"MZ\x90\x00" + bytes(60)), "setup.exe.gz") == "policy.reject"
    assert refused(tmp_path, lzma.compress(b"echo hi\n"), "run.bat.xz") == "policy.reject"


@pytest.mark.parametrize(
    ("name", "inner"),
    [("report.pdf.gz", "report.pdf"), ("logs.tgz", "logs.tar"), ("x.tar.zst", "x.tar"), ("data", "data"),
     ("a.tar.bz2", "a.tar"), (None, "content")],
)  # fmt: skip
def test_content_names(name: str | None, inner: str) -> None:
    assert content_name(name) == inner


def test_same_output_keeps_a_tar_a_tar(tmp_path: Path) -> None:
    data = tar_bytes([("docs/", b""), ("docs/page.html", PAGE), ("tool.exe", b"MZ")])
    outcome = judge(tmp_path, data, "a.tar", options={"output_format": "same"})
    assert outcome.output is not None and outcome.output_path is not None
    assert (outcome.output.name, outcome.output.type) == ("a.tar", "tar")
    with tarfile.open(outcome.output_path) as tar:
        assert tar.getnames() == ["docs", "docs/page.html", REMOVED_LIST_NAME]
        assert all(info.isreg() or info.isdir() for info in tar)
    verify_output(outcome.output_path, Expectation("tar", "rebuild"), Limits())


@pytest.mark.parametrize(
    ("name", "mode", "out"), [("a.tar.gz", "w:gz", "a.tar.gz"), ("b.tar.xz", "w:xz", "b.tar.gz")]
)
def test_same_output_writes_a_compressed_tar_as_tar_gz(
    tmp_path: Path, name: str, mode: str, out: str
) -> None:
    data = tar_bytes([("page.html", PAGE)], mode)
    outcome = judge(tmp_path, data, name, options={"output_format": "same"})
    assert outcome.output is not None and outcome.output_path is not None
    assert (outcome.output.name, outcome.output.type) == (out, "gzip")
    verify_output(outcome.output_path, Expectation("gzip", "rebuild"), Limits())


def test_same_output_of_a_7z_is_a_zip(tmp_path: Path) -> None:
    data = seven_zip(tmp_path, {"a.txt": b"a"})
    assert zip_members(judge(tmp_path, data, "a.7z", options={"output_format": "same"})) == {"a.txt": b"a"}


def test_the_verifier_refuses_a_tar_holding_a_link(tmp_path: Path) -> None:
    forged = tmp_path / "forged.tar"
    forged.write_bytes(tar_bytes([("a.txt", b"a"), special("l", tarfile.SYMTYPE, "a.txt")]))
    with pytest.raises(SanitizeError) as caught:
        verify_output(forged, Expectation("tar", "rebuild"), Limits())
    assert caught.value.code == "verify.failed"


def test_zip_output_passes_the_independent_verifier(tmp_path: Path) -> None:
    data = seven_zip(tmp_path, {"docs/page.html": PAGE, "a.csv": b"a,b\r\n"})
    outcome = judge(tmp_path, data, "a.7z")
    assert outcome.output_path is not None
    verify_output(outcome.output_path, Expectation("zip", "rebuild"), Limits())


def test_an_unwrapped_file_is_verified_under_its_own_rule() -> None:
    rules = {"csv": {"neutralise_formulas": False}}
    expected = expectation_for("gzip", "csv", "rebuild", {"output_format": "zip"}, lambda t: rules.get(t, {}))
    assert expected == Expectation("csv", "rebuild", {"neutralise_formulas": False})
    assert expectation_for("gzip", "zip", "rebuild", {}, lambda t: {}) == Expectation("zip", "rebuild", {})
    assert expectation_for("gzip", "txt", "rebuild", {}, lambda t: {}).method == "text"


# ── detection by content ─────────────────────────────────────────────────────────────


def test_every_format_is_detected_by_its_content(tmp_path: Path) -> None:
    files = {"a.txt": b"alpha"}
    built = {
        "a.7z": seven_zip(tmp_path, files),
        "a.tar": tar_bytes([("a.txt", b"alpha")]),
        "a.tgz": tar_bytes([("a.txt", b"alpha")], "w:gz"),
        "a.tar.bz2": tar_bytes([("a.txt", b"alpha")], "w:bz2"),
        "a.txz": tar_bytes([("a.txt", b"alpha")], "w:xz"),
        "a.tar.zst": libarchive_tar(tmp_path, files, "zstd"),
        "a.iso": iso_image(tmp_path, files),
        "a.lzh": fixture("test_read_format_lha_lh6.lzh"),
        "a.rar": fixture("test_read_format_rar.rar"),
        "b.rar": fixture("test_read_format_rar5_unicode.rar"),
        "a.cab": fixture("test_read_format_cab_filename_cp932.cab"),
    }
    detected = {name: detect_type(tmp_path, data, name) for name, data in built.items()}
    assert detected == {
        "a.7z": "7z", "a.tar": "tar", "a.tgz": "gzip", "a.tar.bz2": "bzip2", "a.txz": "xz",
        "a.tar.zst": "zstd", "a.iso": "iso", "a.lzh": "lzh", "a.rar": "rar", "b.rar": "rar", "a.cab": "cab",
    }  # fmt: skip
    for name, data in built.items():  # content decides: a 7z named .tar is a disguise
        wrong = "x.zip" if not name.endswith(".7z") else "x.tar"
        with pytest.raises(SanitizeError) as caught:
            detect_type(tmp_path, data, wrong)
        assert caught.value.code == "type.mismatch", name


def test_a_tar_whose_first_member_is_a_pdf_is_a_tar(tmp_path: Path) -> None:
    data = tar_bytes([("report.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n")])
    assert detect_type(tmp_path, data, "a.tar") == "tar"


def test_archive_marks_without_their_structure_are_not_archives(tmp_path: Path) -> None:
    ustar_in_text = b"x" * 257 + b"ustar  " + b"y" * 300  # the magic, but no checksum to match
    assert detect_type(tmp_path, ustar_in_text, "notes.txt") == "txt"
    assert detect_type(tmp_path, b"ab-lh5- is how LHA names its method\n" * 3, "notes.txt") == "txt"


# ── the sanitiser alone ──────────────────────────────────────────────────────────────


def test_sanitize_alone_refuses_since_members_need_the_pipeline(tmp_path: Path) -> None:
    src = tmp_path / "a.tar"
    src.write_bytes(tar_bytes([("a.txt", b"a")]))
    with pytest.raises(SanitizeError) as caught:
        ArchiveRebuild().sanitize(src, tmp_path / "out", {}, Limits())
    assert caught.value.code == "type.unsupported"


def test_a_damaged_archive_leaves_nothing_behind(tmp_path: Path) -> None:
    data = seven_zip(tmp_path, {"a.txt": b"alpha " * 1000})
    damaged = data[:40] + bytes(len(data) - 80) + data[-40:]
    src = tmp_path / "in.7z"
    src.write_bytes(damaged)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(SanitizeError) as caught:
        ArchiveRebuild().sanitize_container(src, out_dir / "o", {}, Limits(), members_of(Limits()), "in.7z")
    assert caught.value.code == "archive.malformed"
    assert list(out_dir.iterdir()) == []


def detect_type(tmp_path: Path, data: bytes, name: str) -> str:
    path = tmp_path / "detect-me"
    path.write_bytes(data)
    return detect(path, name).type


def test_a_format_libarchive_cannot_open_is_malformed(tmp_path: Path) -> None:
    disc = bytes(0x8001) + b"CD001" + b"\x01" * 4000  # the mark of a disc, nothing of one behind it
    assert refused(tmp_path, disc, "x.iso") == "archive.malformed"
