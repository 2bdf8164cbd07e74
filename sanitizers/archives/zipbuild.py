"""ZIP rebuild: every member through the whole pipeline, a new archive from what passes.

Members are extracted one at a time into a private scratch folder next to the output
(counted while they decompress), judged by the pipeline one archive level deeper, and the
released results written into a new ZIP with UTF-8 names.  A rejected member is dropped
and listed in ``_mukaika_removed.txt`` inside the output, or stops the whole archive.
"""

from __future__ import annotations

import io
import lzma
import shutil
import tempfile
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

from sanitizers.archives.budget import CHUNK, TreeBudget, copy_bounded, tree_budget
from sanitizers.archives.names import UTF8_FLAG, collision_key, safe_member_path
from sanitizers.archives.zipcheck import Entry, check_entries, open_zip
from sanitizers.base import (
    ContainerSanitizer,
    Limits,
    MemberProcessor,
    MemberResult,
    Options,
    OptionSpec,
    Report,
)
from sanitizers.errors import REASONS, LimitError, MalformedError, PolicyError, VerifyError

REMOVED_LIST_NAME = "_mukaika_removed.txt"
_FILE_MODE = 0o100644 << 16
_FOLDER_MODE = (0o040755 << 16) | 0x10  # Unix mode, and the MS-DOS directory bit
_UNIX = 3


@dataclass(frozen=True)
class _Released:
    entry: Entry
    output_path: Path
    output_name: str  # full path inside the archive, with the output's extension


@dataclass(frozen=True)
class _Removed:
    name: str
    code: str
    message: str


class ZipRebuild(ContainerSanitizer):
    """ZIP archives rebuilt member by member; each member judged by the whole pipeline."""

    types: ClassVar[frozenset[str]] = frozenset({"zip"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "member_reject": OptionSpec(
            "drop",
            "無害化できないファイル: drop=取り除き _mukaika_removed.txt に記録 / "
            "reject_archive=圧縮ファイルごと拒否. "
            "A member that cannot be sanitised: drop it (listed in _mukaika_removed.txt inside "
            "the archive) or reject the whole archive.",
            choices=("drop", "reject_archive"),
        ),
        "undecodable_names": OptionSpec(
            "reject",
            "UTF-8でもShift_JISでもないファイル名: reject=拒否 / rename=連番の名前に変更. "
            "Member names that are neither UTF-8 nor Shift_JIS: reject the archive, or rename "
            "them (_mukaika_renamed/0001.ext).",
            choices=("reject", "rename"),
        ),
    }

    def sanitize_container(
        self,
        untrusted_src: Path,
        dst: Path,
        options: Options,
        limits: Limits,
        process_member: MemberProcessor,
    ) -> Report:
        limits.checked_size(untrusted_src)
        resolved = self.resolved_options(options)
        # Scratch beside dst: same file system for the final rename, and inside the folder
        # the caller cleans, so nothing lands elsewhere even if we are killed.
        work = Path(tempfile.mkdtemp(prefix=".mukaika-zip-", dir=dst.parent))
        try:
            with tree_budget(limits) as budget, open_zip(untrusted_src) as archive:
                entries = check_entries(archive, untrusted_src, limits, str(resolved["undecodable_names"]))
                budget.take_members(len(entries), "archive")
                run = _Run(archive, work, limits, budget, process_member, str(resolved["member_reject"]))
                for index, entry in enumerate(entries):
                    run.judge(index, entry)
                output = work / "rebuilt.zip"
                names = write_archive(output, run.folders, run.released, run.removed)
                verify_archive(output, names)
                output.replace(dst)
            return run.report
        finally:
            shutil.rmtree(work, ignore_errors=True)


class _Run:
    """One archive's members, judged in order."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        work: Path,
        limits: Limits,
        budget: TreeBudget,
        process_member: MemberProcessor,
        member_reject: str,
    ) -> None:
        self.archive = archive
        self.work = work
        self.limits = limits
        self.budget = budget
        self.process_member = process_member
        self.member_reject = member_reject
        self.report = Report("zip")
        self.folders: list[Entry] = []
        self.released: list[_Released] = []
        self.removed: list[_Removed] = []

    def judge(self, index: int, entry: Entry) -> None:
        if entry.renamed_from is not None:
            self.report.add(
                "archive.name_undecodable", "renamed", 1, f"{entry.renamed_from!r} → {entry.name}"
            )
        if entry.is_dir:
            self.folders.append(entry)
            return
        result = self._process(index, entry)
        if result.released and result.output_path is not None and result.output_name:
            parent = PurePosixPath(entry.name).parent
            output_name = str(parent / PurePosixPath(result.output_name).name)
            self.released.append(_Released(entry, result.output_path, output_name))
            for finding in result.findings:
                where = f"{entry.name}: {finding.location}" if finding.location else entry.name
                self.report.add(finding.construct, finding.action, finding.count, where)
            return
        code = result.reason_code or "sanitizer.crash"
        message = result.reason_message or "the member was not released"
        if code == "archive.bomb":
            # a bomb one level down is a bomb here too, whatever the rule says about members
            raise LimitError("archive.bomb", f"{entry.name}: {message}")
        if self.member_reject == "reject_archive":
            raise PolicyError("archive.member_rejected", f"{entry.name}: {code}: {message}")
        self.removed.append(_Removed(entry.name, code, message))
        self.report.add("archive.member", "dropped", 1, f"{entry.name} ({code})")

    def _process(self, index: int, entry: Entry) -> MemberResult:
        extracted = self.work / f"member-{index}"
        scratch = self.work / f"member-{index}.out"
        scratch.mkdir()
        try:
            with self.archive.open(entry.info) as untrusted_stream, extracted.open("wb") as out:
                copy_bounded(
                    untrusted_stream, out, entry.info.compress_size, self.limits, self.budget, entry.name
                )
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
            raise MalformedError(
                "archive.malformed", f"{entry.name}: cannot be decompressed: {exc}"
            ) from None
        try:
            return self.process_member(extracted, entry.name, scratch)
        finally:
            extracted.unlink(missing_ok=True)


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``stem (2).ext`` etc. when Windows would see it as one already taken."""
    candidate, number = name, 2
    path = PurePosixPath(name)
    while collision_key(candidate) in taken:
        candidate = str(path.with_name(f"{path.stem} ({number}){path.suffix}"))
        number += 1
    taken.add(collision_key(candidate))
    return candidate


def _new_info(name: str, date_time: tuple[int, int, int, int, int, int], folder: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.create_system = _UNIX
    info.external_attr = _FOLDER_MODE if folder else _FILE_MODE
    info.compress_type = zipfile.ZIP_STORED if folder else zipfile.ZIP_DEFLATED
    return info


def removed_list(removed: list[_Removed]) -> bytes:
    """What staff read in the archive about the members that were taken out."""
    lines = [
        "以下のファイルは無害化できなかったため、この圧縮ファイルから取り除きました。",
        "The following files could not be sanitised and were removed from this archive.",
        "",
    ]
    for item in removed:
        reason = REASONS.get(item.code)
        lines.append(item.name)
        if reason is not None:
            lines.append(f"  理由: {reason.ja}")
            lines.append(f"  Reason: {reason.en}")
        detail = "".join(ch for ch in item.message if unicodedata.category(ch) != "Cc")
        lines.append(f"  ({item.code}: {detail[:500]})")
        lines.append("")
    # UTF-8 with a BOM and CRLF: what Windows Notepad shows correctly on every version
    return "\ufeff".encode() + "\r\n".join(lines).encode("utf-8")


def write_archive(
    output: Path, folders: list[Entry], released: list[_Released], removed: list[_Removed]
) -> list[str]:
    """Write the new archive; returns its names in order."""
    taken: set[str] = set()
    if removed:
        taken.add(collision_key(REMOVED_LIST_NAME))
    for entry in folders:
        taken.add(collision_key(entry.name))
    for item in released:
        parts = PurePosixPath(item.output_name).parts
        taken.update(collision_key("/".join(parts[:i])) for i in range(1, len(parts)))
    # Members that keep their name claim it first; a converted one (a.html → a.txt) yields.
    final: dict[int, str] = {}
    for unchanged in (True, False):
        for i, item in enumerate(released):
            if (item.output_name == item.entry.name) == unchanged:
                final[i] = _unique(item.output_name, taken)
    names: list[str] = []
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for entry in folders:
            archive.writestr(_new_info(entry.name, entry.info.date_time, folder=True), b"")
            names.append(entry.name)
        for i, item in enumerate(released):
            info = _new_info(final[i], item.entry.info.date_time, folder=False)
            info.file_size = item.output_path.stat().st_size  # lets zipfile pick ZIP64 up front
            with item.output_path.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
            item.output_path.unlink()
            names.append(final[i])
        if removed:
            now = time.localtime()
            stamp = (now.tm_year, now.tm_mon, now.tm_mday, now.tm_hour, now.tm_min, now.tm_sec)
            archive.writestr(_new_info(REMOVED_LIST_NAME, stamp, folder=False), removed_list(removed))
            names.append(REMOVED_LIST_NAME)
    return names


def verify_archive(output: Path | bytes, expected: list[str] | None) -> None:
    """Reopen what we wrote: exactly the names we meant, safe, unique, UTF-8, intact.

    ``expected`` None: any names will do (the gateway's verifier knows none in advance).
    """

    def fail(why: str) -> VerifyError:
        return VerifyError("archive.verify_failed", why)

    try:
        with zipfile.ZipFile(output if isinstance(output, Path) else io.BytesIO(output)) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if expected is not None and names != expected:
                raise fail("the written names differ from the intended ones")
            if len({collision_key(n) for n in names}) != len(names):
                raise fail("two names collide")
            for info in infos:
                # zipfile sets the UTF-8 flag on every non-ASCII name (ASCII reads the same in all)
                if info.flag_bits & 0x1 or not (info.filename.isascii() or info.flag_bits & UTF8_FLAG):
                    raise fail(f"{info.filename!r}: flags {info.flag_bits:#x}")
                if safe_member_path(info.filename) != info.filename:
                    raise fail(f"{info.filename!r} is not a normalised safe path")
            broken = archive.testzip()
            if broken is not None:
                raise fail(f"{broken!r} fails its CRC check")
    except (zipfile.BadZipFile, MalformedError) as exc:
        raise fail(f"the rebuilt archive does not reopen cleanly: {exc}") from None
