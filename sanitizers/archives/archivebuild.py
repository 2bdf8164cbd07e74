"""7z, RAR, LZH, tar (plain or compressed), ISO 9660 and cab rebuilt member by member.

libarchive reads the input (``libarchive_read``); the members go through the same loop,
budgets and name checks as a ZIP's (``members``), and what passes is written as a new ZIP
with UTF-8 names, whatever the input was.  With ``output_format = "same"`` a tar comes back
as a tar and a compressed tar as a tar.gz.  A compressed single file (``report.pdf.gz``) is
not an archive: its content is judged under its own name and released in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import ClassVar

from sanitizers.archives.budget import TreeBudget, tree_budget
from sanitizers.archives.libarchive_read import (
    ARCHIVE_TYPES,
    STREAM_TYPES,
    LibarchiveReader,
    open_archive,
    read_members,
    read_single_file,
    stream_holds_tar,
)
from sanitizers.archives.members import MEMBER_OPTIONS, MemberLoop, scratch_beside
from sanitizers.archives.preflight import check_headers
from sanitizers.archives.signatures import archive_type
from sanitizers.archives.tarwrite import verify_tar, write_tar
from sanitizers.archives.zipbuild import verify_archive, write_archive
from sanitizers.base import ContainerSanitizer, Limits, MemberProcessor, Options, OptionSpec, Report
from sanitizers.errors import LimitError, MalformedError, SanitizeError

#: The name a compressed file's content goes by: "report.pdf.gz" holds "report.pdf",
#: "logs.tgz" a tar.
_COMPRESSION_SUFFIXES = {
    ".gz": "", ".gzip": "", ".bz2": "", ".xz": "", ".lzma": "", ".zst": "",
    ".tgz": ".tar", ".tbz": ".tar", ".tbz2": ".tar", ".txz": ".tar", ".tzst": ".tar",
}  # fmt: skip


class ArchiveRebuild(ContainerSanitizer):
    """Archives libarchive reads, rebuilt as a ZIP (or a tar) member by member."""

    types: ClassVar[frozenset[str]] = ARCHIVE_TYPES
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        **MEMBER_OPTIONS,
        "output_format": OptionSpec(
            "zip",
            "出力形式: zip=ZIP（UTF-8のファイル名） / same=tar は tar、圧縮した tar は tar.gz のまま"
            "（その他の形式は ZIP）. Output: a ZIP with UTF-8 names whatever the input was, or "
            "the same kind for tar inputs (a compressed tar comes out as tar.gz; other formats as ZIP).",
            choices=("zip", "same"),
        ),
    }

    def sanitize_container(
        self,
        untrusted_src: Path,
        dst: Path,
        options: Options,
        limits: Limits,
        process_member: MemberProcessor,
        name: str | None = None,
    ) -> Report:
        untrusted_size = limits.checked_size(untrusted_src)
        resolved = self.resolved_options(options)
        type_name = archive_type(untrusted_src)
        if type_name is None:
            raise MalformedError("archive.malformed", "no archive format this rebuild reads")
        check_headers(untrusted_src, type_name)
        single = type_name in STREAM_TYPES and not stream_holds_tar(untrusted_src, type_name)
        with scratch_beside(dst) as work:
            with tree_budget(limits) as budget, open_archive(untrusted_src, type_name, raw=single) as reader:
                if single:
                    return _unwrapped(reader, untrusted_size, name, work, dst, limits, budget, process_member)
                loop = MemberLoop(work, process_member, str(resolved["member_reject"]))
                members = read_members(
                    reader, untrusted_size, limits, budget, str(resolved["undecodable_names"])
                )
                for index, member in enumerate(members):
                    loop.judge(index, member)
            output = work / "rebuilt"
            if resolved["output_format"] == "same" and type_name in STREAM_TYPES | {"tar"}:
                loop.report.output_type = "tar" if type_name == "tar" else "gzip"
                names = write_tar(output, loop.folders, loop.released, loop.removed, type_name != "tar")
                verify_tar(output, names, limits)
            else:
                names = write_archive(output, loop.folders, loop.released, loop.removed)
                verify_archive(output, names)
            output.replace(dst)
        return loop.report


def content_name(name: str | None) -> str:
    """The name a compressed single file's content is known by, from the file's own name."""
    if not name:
        return "content"
    pure = PurePath(name)
    suffix = pure.suffix.lower()
    if suffix not in _COMPRESSION_SUFFIXES:
        return pure.name
    return pure.stem + _COMPRESSION_SUFFIXES[suffix] if pure.stem else "content"


def _unwrapped(
    reader: LibarchiveReader,
    untrusted_size: int,
    name: str | None,
    work: Path,
    dst: Path,
    limits: Limits,
    budget: TreeBudget,
    process_member: MemberProcessor,
) -> Report:
    """A compressed single file: its content judged by the pipeline, and released instead."""
    budget.take_members(1, "archive")
    inner_name = content_name(name)
    extracted = work / "content"
    with extracted.open("wb") as out:
        read_single_file(reader, untrusted_size, limits, budget, out)
    scratch = work / "content.out"
    scratch.mkdir()
    result = process_member(extracted, inner_name, scratch)
    if not (result.released and result.output_path is not None and result.output_type is not None):
        code = result.reason_code or "sanitizer.crash"
        message = f"{inner_name}: {result.reason_message or 'the content was not released'}"
        raise LimitError(code, message) if code == "archive.bomb" else SanitizeError(code, message)
    result.output_path.replace(dst)
    report = Report(result.output_type)
    report.add("archive.compression", "removed", 1, reader.type_name)
    report.findings.extend(result.findings)
    return report
