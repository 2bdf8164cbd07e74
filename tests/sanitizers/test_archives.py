"""ZIP rebuild: every member through the pipeline, every trick refused, limits counted live."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import pytest

from sanitizers.archives import ArchiveRebuild, ZipRebuild
from sanitizers.archives.budget import TreeBudget, copy_bounded
from sanitizers.archives.members import REMOVED_LIST_NAME
from sanitizers.base import Limits, MemberProcessor, MemberResult, Options, Registry, Report, Sanitizer
from sanitizers.errors import REASONS, LimitError, SanitizeError
from sanitizers.html import HtmlRebuild, HtmlText
from sanitizers.pipeline import Outcome, Rule, _member_processor, process_file
from sanitizers.svg import SvgRebuild
from sanitizers.text import CsvRebuild, TextRebuild
from tests.sanitizers.contract import RebuildContract

#: Only the sanitisers of this family: tables and tests do not depend on other families.
REGISTRY = Registry(
    [TextRebuild(), CsvRebuild(), HtmlRebuild(), HtmlText(), SvgRebuild(), ZipRebuild(), ArchiveRebuild()]
)
OWN_TYPES = frozenset(
    {"txt", "csv", "html", "svg", "zip", "7z", "rar", "tar", "gzip", "bzip2", "xz", "zstd", "lzh", "iso", "cab"}
)  # fmt: skip


@dataclass(frozen=True)
class OwnTypesPolicy:
    """Our types are rebuilt; every other type is judged ``reject`` explicitly."""

    rebuilt: frozenset[str] = OWN_TYPES
    overrides: Mapping[str, Rule] = field(default_factory=dict)

    def rule_for(self, type_name: str) -> Rule:
        if type_name in self.overrides:
            return self.overrides[type_name]
        return Rule(("rebuild",)) if type_name in self.rebuilt else Rule(("reject",))


def members_of(limits: Limits, policy: OwnTypesPolicy | None = None) -> MemberProcessor:
    return _member_processor(policy or OwnTypesPolicy(), limits, REGISTRY)


# ── building archives ────────────────────────────────────────────────────────────────

Member = tuple[str, bytes]


def zip_bytes(members: list[Member], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are what some tests want
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return buffer.getvalue()


def central_records(data: bytes) -> list[int]:
    """Offsets of the central directory records (our test contents never hold the signature)."""
    offsets, pos = [], data.find(b"PK\x01\x02")
    while pos != -1:
        offsets.append(pos)
        pos = data.find(b"PK\x01\x02", pos + 4)
    return offsets


def patch_central(data: bytes, index: int, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of the index-th central directory record."""
    out = bytearray(data)
    struct.pack_into(fmt, out, central_records(data)[index] + offset, value)
    return bytes(out)


_CD_FLAGS, _CD_METHOD, _CD_DISK, _CD_ATTR, _CD_OFFSET = 8, 10, 34, 38, 42


def raw_named_zip(raw_names: list[bytes], contents: list[bytes]) -> bytes:
    """Names stored as these exact bytes, without the UTF-8 flag (as Windows writes CP932)."""
    placeholders = [f"{i:0{len(raw)}d}"[-len(raw) :].encode() for i, raw in enumerate(raw_names)]
    data = zip_bytes(
        [(p.decode(), c) for p, c in zip(placeholders, contents, strict=True)], zipfile.ZIP_STORED
    )
    for placeholder, raw in zip(placeholders, raw_names, strict=True):
        data = data.replace(placeholder, raw)
    return data


def write(tmp_path: Path, data: bytes, name: str = "in.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run(
    tmp_path: Path, data: bytes, limits: Limits | None = None, policy: OwnTypesPolicy | None = None,
    zip_options: Mapping[str, str] | None = None,
) -> Outcome:  # fmt: skip
    """The archive through the whole pipeline, as the daemon runs it."""
    src = write(tmp_path, data)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    policy = policy or OwnTypesPolicy()
    if zip_options:
        policy = replace(policy, overrides={**policy.overrides, "zip": Rule(("rebuild",), zip_options)})
    outcome = process_file(src, "in.zip", scratch, policy, limits or Limits(), REGISTRY)
    left = sorted(p.name for p in scratch.iterdir())
    assert left == (["output-rebuild"] if outcome.verdict == "released" else []), left
    return outcome


def rejected_with(tmp_path: Path, data: bytes, limits: Limits | None = None, **options: str) -> str:
    outcome = run(tmp_path, data, limits, zip_options=options)
    assert outcome.verdict == "rejected" and outcome.reason is not None
    return outcome.reason.code


def output_members(outcome: Outcome) -> dict[str, bytes]:
    assert outcome.verdict == "released" and outcome.output_path is not None, outcome.reason
    with zipfile.ZipFile(outcome.output_path) as archive:
        for info in archive.infolist():
            assert info.filename.isascii() or info.flag_bits & 0x800, info.filename
        return {info.filename: archive.read(info) for info in archive.infolist()}


# ── the contract ─────────────────────────────────────────────────────────────────────


class _ZipThroughPipeline(Sanitizer):
    """ZipRebuild with the pipeline's member processor, so the common contract applies."""

    types: ClassVar[frozenset[str]] = frozenset({"zip"})
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        return ZipRebuild().sanitize_container(untrusted_src, dst, options, limits, members_of(limits))


class TestZipContract(RebuildContract):
    def make_sanitizer(self) -> Sanitizer:
        return _ZipThroughPipeline()

    def make_good_input(self, tmp_path: Path) -> Path:
        members = [("docs/page.html", b"<p>x</p><script>alert(1)</script>"), ("data.csv", b"a,=1+1\n")]
        return write(tmp_path, zip_bytes(members))


def test_sanitize_alone_refuses_since_members_need_the_pipeline(tmp_path: Path) -> None:
    src = write(tmp_path, zip_bytes([("a.txt", b"a")]))
    with pytest.raises(SanitizeError) as caught:
        ZipRebuild().sanitize(src, tmp_path / "out", {}, Limits())
    assert caught.value.code == "type.unsupported"


# ── members through the pipeline ─────────────────────────────────────────────────────


def test_every_member_is_sanitised_recursively(tmp_path: Path) -> None:
    inner = zip_bytes([("deep.html", b"<p>deep</p><iframe src=x></iframe>")])
    data = zip_bytes(
        [
            ("folder/", b""),
            ("folder/page.html", b'<p onclick="x()">page</p><script>alert(1)</script>'),
            ("folder/sub/list.csv", "名前,=cmd|' /C calc'!A0\r\n".encode("cp932")),
            ("nested.zip", inner),
        ]
    )
    outcome = run(tmp_path, data)
    members = output_members(outcome)
    assert sorted(members) == ["folder/", "folder/page.html", "folder/sub/list.csv", "nested.zip"]
    assert b"script" not in members["folder/page.html"] and b"onclick" not in members["folder/page.html"]
    assert members["folder/sub/list.csv"] == "名前,'=cmd|' /C calc'!A0\r\n".encode("cp932")
    with zipfile.ZipFile(io.BytesIO(members["nested.zip"])) as nested:
        assert b"iframe" not in nested.read("deep.html") and b"deep" in nested.read("deep.html")
    found = {(f.construct, f.location) for f in outcome.findings}
    assert ("html.script", "folder/page.html") in found
    assert ("csv.dde", "folder/sub/list.csv: row 1") in found
    assert ("html.embedded_content", "nested.zip: deep.html") in found


def test_rejected_member_is_dropped_and_listed(tmp_path: Path) -> None:
    data = zip_bytes([("ok.txt", b"fine"), ("tool.exe", b"MZ\x90\x00"), ("empty.txt", b"")])
    members = output_members(run(tmp_path, data))
    assert sorted(members) == [REMOVED_LIST_NAME, "ok.txt"]
    listing = members[REMOVED_LIST_NAME].decode("utf-8-sig")
    assert "tool.exe" in listing and "policy.reject" in listing and REASONS["policy.reject"].ja in listing
    assert "empty.txt" in listing and "type.empty" in listing


def test_a_member_named_like_our_list_cannot_pose_as_it(tmp_path: Path) -> None:
    data = zip_bytes([(REMOVED_LIST_NAME, b"nothing was removed"), ("tool.exe", b"MZ")])
    members = output_members(run(tmp_path, data))
    assert members["_mukaika_removed (2).txt"] == b"nothing was removed"
    assert b"tool.exe" in members[REMOVED_LIST_NAME]


def test_member_reject_option_can_stop_the_whole_archive(tmp_path: Path) -> None:
    data = zip_bytes([("ok.txt", b"fine"), ("tool.exe", b"MZ")])
    assert rejected_with(tmp_path, data, member_reject="reject_archive") == "archive.member_rejected"


def test_renamed_outputs_do_not_collide(tmp_path: Path) -> None:
    policy = OwnTypesPolicy(overrides={"html": Rule(("text",))})
    data = zip_bytes([("a.html", b"<p>from html</p>"), ("a.txt", b"plain")])
    assert output_members(run(tmp_path, data, policy=policy)) == {
        "a (2).txt": b"from html\n",
        "a.txt": b"plain",
    }


# ── names ────────────────────────────────────────────────────────────────────────────


def test_cp932_names_without_the_utf8_flag_come_out_as_unicode(tmp_path: Path) -> None:
    names = ["報告書/住民票.txt", "表計算ソフト.csv"]  # 表 and ソ end in 0x5C, a backslash byte
    data = raw_named_zip([n.encode("cp932") for n in names], [b"one", b"two"])
    members = output_members(run(tmp_path, data))
    assert sorted(members) == sorted(names)


def test_utf8_names_are_honoured_with_or_without_the_flag(tmp_path: Path) -> None:
    text = "本文です。".encode()
    flagged = zip_bytes([("日本語.txt", text)])  # zipfile sets the flag
    assert output_members(run(tmp_path, flagged)) == {"日本語.txt": text}
    unflagged = raw_named_zip(["マック.txt".encode()], [text])  # macOS Archive Utility
    assert output_members(run(tmp_path, unflagged)) == {"マック.txt": text}


def test_info_zip_unicode_path_field_is_used_when_it_matches(tmp_path: Path) -> None:
    raw = b"old.txt"
    unicode_name = "新しい.txt".encode()
    extra = struct.pack("<HHB", 0x7075, 5 + len(unicode_name), 1)
    extra += struct.pack("<I", __import__("zlib").crc32(raw)) + unicode_name
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("old.txt")
        info.extra = extra
        archive.writestr(info, b"some text")
    assert output_members(run(tmp_path, buffer.getvalue())) == {"新しい.txt": b"some text"}


def test_undecodable_names_are_refused_or_renamed(tmp_path: Path) -> None:
    data = raw_named_zip([b"\x81\x20bad.txt"], [b"content"])  # 0x81 needs a trail byte >= 0x40
    assert rejected_with(tmp_path, data) == "archive.name_encoding"
    outcome = run(tmp_path, data, zip_options={"undecodable_names": "rename"})
    assert output_members(outcome) == {"_mukaika_renamed/0000.txt": b"content"}
    assert any(f.construct == "archive.name_undecodable" for f in outcome.findings)


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "C:/Windows/evil.txt", "c:evil.txt",
     "..\\..\\evil.txt", "a\\b.txt", "a//b.txt", "bell\x07.txt", "invoice\u202etxt.exe", "con.txt",
     "trailing.txt.", "file.txt:stream",
     # what a released file name loses must not pass in a member name either (gateway.names)
     "report\u200b.pdf", "a\u061cb.txt", "soft\u00adhyphen.txt", "line\u2028sep.txt", "filler\u3164.txt",
     "folder\u2066/x.txt", "\ufeffbom.txt"],
)  # fmt: skip
def test_unsafe_paths_are_refused(tmp_path: Path, name: str) -> None:
    assert rejected_with(tmp_path, zip_bytes([("good.txt", b"a"), (name, b"b")])) == "archive.unsafe_path"


def test_a_nul_in_a_name_is_refused(tmp_path: Path) -> None:
    # zipfile itself cuts a name at NUL; an extractor in C would too, at a different place
    assert rejected_with(tmp_path, raw_named_zip([b"evil.txt\x00.exe"], [b"text"])) == "archive.unsafe_path"


def test_symlink_entries_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link.txt")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    assert rejected_with(tmp_path, buffer.getvalue()) == "archive.unsafe_path"


@pytest.mark.parametrize(
    "names",
    [["a.txt", "a.txt"], ["Report.TXT", "report.txt"], ["\u30cf\u309a.txt", "\u30d1.txt"], ["x", "x/y.txt"]],
    ids=["exact", "case", "nfd-nfc", "file-and-folder"],
)
def test_names_one_windows_folder_would_merge_are_refused(tmp_path: Path, names: list[str]) -> None:
    data = zip_bytes([(name, b"content") for name in names])
    assert rejected_with(tmp_path, data) == "archive.malformed"


# ── structure ────────────────────────────────────────────────────────────────────────


def test_encrypted_archives_are_refused_with_an_explanation(tmp_path: Path) -> None:
    data = patch_central(zip_bytes([("plain.txt", b"a"), ("secret.txt", b"b")]), 1, _CD_FLAGS, "<H", 0x1)
    assert rejected_with(tmp_path, data) == "archive.encrypted"
    assert "パスワード" in REASONS["archive.encrypted"].ja and "Password" in REASONS["archive.encrypted"].en


def test_aes_method_counts_as_encrypted(tmp_path: Path) -> None:
    data = patch_central(zip_bytes([("a.txt", b"a")]), 0, _CD_METHOD, "<H", 99)
    assert rejected_with(tmp_path, data) == "archive.encrypted"


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    data = patch_central(zip_bytes([("a.txt", b"first"), ("b.txt", b"second")]), 1, _CD_OFFSET, "<I", 0)
    assert rejected_with(tmp_path, data) == "archive.malformed"


def test_split_archives_are_refused(tmp_path: Path) -> None:
    on_other_disk = patch_central(zip_bytes([("a.txt", b"a")]), 0, _CD_DISK, "<H", 1)
    assert rejected_with(tmp_path, on_other_disk) == "archive.malformed"
    spanned = b"PK\x07\x08" + zip_bytes([("a.txt", b"a")])
    src = write(tmp_path, spanned, "spanned.zip")
    with pytest.raises(SanitizeError) as caught:
        ZipRebuild().sanitize_container(src, tmp_path / "out", {}, Limits(), members_of(Limits()))
    assert caught.value.code == "archive.malformed"


def test_unreadable_compression_method_is_refused(tmp_path: Path) -> None:
    data = patch_central(zip_bytes([("a.txt", b"a")], zipfile.ZIP_STORED), 0, _CD_METHOD, "<H", 6)
    assert rejected_with(tmp_path, data) == "archive.compression_unsupported"


def test_empty_archive_is_released_empty(tmp_path: Path) -> None:
    assert output_members(run(tmp_path, zip_bytes([]))) == {}


# ── limits ───────────────────────────────────────────────────────────────────────────


def test_too_many_members(tmp_path: Path) -> None:
    data = zip_bytes([(f"{i}.txt", b"x") for i in range(6)])
    assert rejected_with(tmp_path, data, Limits(archive_members=5)) == "archive.bomb"


def test_declared_member_size_over_the_limit(tmp_path: Path) -> None:
    data = zip_bytes([("big.txt", b"a" * 300_000)])
    assert rejected_with(tmp_path, data, Limits(archive_member_size=200_000)) == "archive.bomb"


def test_declared_ratio_over_the_limit(tmp_path: Path) -> None:
    data = zip_bytes([("zeros.txt", b"0" * (3 << 20))])  # ~1000:1, above the 1 MiB floor
    assert rejected_with(tmp_path, data) == "archive.bomb"


def test_highly_compressible_small_members_are_fine(tmp_path: Path) -> None:
    data = zip_bytes([("spaces.txt", b" " * 500_000 + b"x")])  # ~1000:1, below the floor
    assert output_members(run(tmp_path, data))["spaces.txt"].endswith(b"x")


def test_declared_total_over_the_limit(tmp_path: Path) -> None:
    data = zip_bytes([(f"{i}.txt", bytes(range(256)) * 400) for i in range(3)])
    assert rejected_with(tmp_path, data, Limits(archive_total_size=250_000)) == "archive.bomb"


def test_nesting_deeper_than_the_depth_limit(tmp_path: Path) -> None:
    data = zip_bytes([("leaf.txt", b"leaf")])
    for level in range(2):  # the archive, level1.zip inside it, level0.zip inside that
        data = zip_bytes([(f"level{level}.zip", data)])
    assert output_members(run(tmp_path, data, Limits(archive_depth=3)))
    assert rejected_with(tmp_path, data, Limits(archive_depth=2)) == "archive.bomb"


def test_a_zip_in_a_zip_in_a_zip_is_released_under_the_default_limits(tmp_path: Path) -> None:
    data = zip_bytes([("memo.txt", "お知らせ".encode())])
    for level in ("inner", "middle"):
        data = zip_bytes([(f"{level}.zip", data)])
    middle = zipfile.ZipFile(io.BytesIO(output_members(run(tmp_path, data))["middle.zip"]))
    inner = zipfile.ZipFile(io.BytesIO(middle.read("inner.zip")))
    assert inner.read("memo.txt") == "お知らせ".encode()


def test_a_bomb_inside_is_a_bomb_outside_even_when_members_are_dropped(tmp_path: Path) -> None:
    inner = zip_bytes([("zeros.txt", b"0" * (3 << 20))])
    data = zip_bytes([("ok.txt", b"fine"), ("inner.zip", inner)])
    assert rejected_with(tmp_path, data, member_reject="drop") == "archive.bomb"


def test_the_total_is_shared_by_the_whole_archive_tree(tmp_path: Path) -> None:
    text = b"".join(f"{i:08d} 行目のテキスト\n".encode() for i in range(20_000))  # ~500 KiB each
    inner = zip_bytes([("part.txt", text)])
    limits = Limits(archive_total_size=2 * (len(text) + len(inner)) + 10_000)
    two = zip_bytes([("a.zip", inner), ("b.zip", inner)])
    assert output_members(run(tmp_path, two, limits))
    four = zip_bytes([(f"{c}.zip", inner) for c in "abcd"])
    assert rejected_with(tmp_path, four, limits) == "archive.bomb"


def test_bytes_are_counted_as_produced_not_as_declared() -> None:
    limits = Limits(archive_member_size=3 << 20, archive_ratio=200)
    budget = TreeBudget(bytes_left=1 << 30, members_left=10)
    lying_stream = io.BytesIO(b"\0" * (4 << 20))  # a header would have said "1 KiB"
    out = io.BytesIO()
    with pytest.raises(LimitError) as caught:
        copy_bounded(lying_stream, out, 1024, limits, budget, "liar.txt")
    assert caught.value.code == "archive.bomb"
    assert out.tell() <= 1 << 20  # stopped at the first chunk past the 1 MiB ratio floor


def test_tree_budget_stops_a_member_within_its_own_limits() -> None:
    budget = TreeBudget(bytes_left=1 << 20, members_left=10)
    with pytest.raises(LimitError):
        copy_bounded(io.BytesIO(b"x" * (2 << 20)), io.BytesIO(), 1 << 20, Limits(), budget, "big.txt")


# ── cleanliness ──────────────────────────────────────────────────────────────────────


def test_a_raising_member_processor_leaves_nothing_behind(tmp_path: Path) -> None:
    src = write(tmp_path, zip_bytes([("a.txt", b"a"), ("b.txt", b"b")]))
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def exploding(member: Path, name: str, scratch: Path) -> MemberResult:
        (scratch / "output-rebuild").write_bytes(b"half-written")
        raise LimitError("archive.bomb", "simulated depth limit")

    with pytest.raises(LimitError):
        ZipRebuild().sanitize_container(src, out_dir / "result.zip", {}, Limits(), exploding)
    assert list(out_dir.iterdir()) == []


def test_patched_data_zipfile_cannot_read_is_a_malformed_archive_not_a_crash(tmp_path: Path) -> None:
    data = patch_central(zip_bytes([("a.txt", b"a")]), 0, _CD_FLAGS, "<H", 0x20)  # flag bit 5
    assert rejected_with(tmp_path, data) == "archive.malformed"
