"""The member loop every archive rebuild shares, whatever read the archive.

A reader (zipfile for ZIP, libarchive for the rest) hands over its entries one at a time as
:class:`SourceMember`: a name already judged safe, what kind of entry it is, and a way to
extract its bytes that counts them against the archive tree's budget.  Each file member is
extracted into a private scratch folder, judged by the pipeline one archive level deeper,
and either kept for the new archive or dropped and listed in ``_mukaika_removed.txt``.
Links and device entries are never extracted: their data is drained (still counted, as
libarchive decompresses it anyway) and they are listed as removed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from sanitizers.archives.budget import Writable
from sanitizers.archives.names import collision_key
from sanitizers.base import MemberProcessor, MemberResult, OptionSpec, Report
from sanitizers.errors import REASONS, AmbiguousStructureError, LimitError, PolicyError

REMOVED_LIST_NAME = "_mukaika_removed.txt"

#: (year, month, day, hour, minute, second), as ZIP and zipfile keep a member's time
DateTime = tuple[int, int, int, int, int, int]


#: The options every archive rebuild understands, whatever format it reads.
MEMBER_OPTIONS: Mapping[str, OptionSpec] = {
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


@contextmanager
def scratch_beside(dst: Path) -> Iterator[Path]:
    """A private folder for the extracted members and the new archive, beside ``dst``: on the
    same file system for the final rename, and inside the folder the caller cleans, so that
    nothing lands elsewhere even if the worker is killed."""
    work = Path(tempfile.mkdtemp(prefix=".mukaika-archive-", dir=dst.parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


class MemberKind(StrEnum):
    FILE = "file"
    FOLDER = "folder"
    LINK = "link"  # symbolic or hard link: never written, its target is not ours to follow
    DEVICE = "device"  # character or block device, FIFO, socket


@dataclass(frozen=True)
class SourceMember:
    """One entry as a reader hands it over, valid until the reader moves to the next one."""

    name: str  # safe, normalised; folders end in "/"
    kind: MemberKind
    date_time: DateTime
    #: writes the entry's bytes to the file given, counted against the budget as they come
    extract: Callable[[Writable], int]
    renamed_from: bytes | None = None


@dataclass(frozen=True)
class Folder:
    name: str
    date_time: DateTime


@dataclass(frozen=True)
class Released:
    name: str  # the member's name in the input
    date_time: DateTime
    output_path: Path
    output_name: str  # full path inside the archive, with the output's extension


@dataclass(frozen=True)
class Removed:
    name: str
    code: str
    message: str


class UniqueNames:
    """No two names a Windows extraction would put in one place, no file used as a folder;
    checked entry by entry, so that a streamed archive is judged as it is read."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._files: set[str] = set()
        self._folders: set[str] = set()

    def add(self, name: str, is_folder: bool) -> None:
        key = collision_key(name)
        if key in self._seen:
            raise AmbiguousStructureError("archive.malformed", f"duplicate name {name[:200]!r}")
        self._seen.add(key)
        parts = key.split("/")
        folders = {"/".join(parts[:i]) for i in range(1, len(parts))} | ({key} if is_folder else set())
        files = set() if is_folder else {key}
        clash = (files & self._folders) | (folders & (self._files | files))
        if clash:
            raise AmbiguousStructureError(
                "archive.malformed", f"{sorted(clash)[0][:200]!r} is both a file and a folder"
            )
        self._files |= files
        self._folders |= folders


@dataclass
class MemberLoop:
    """One archive's members, judged in the order the reader gives them."""

    work: Path
    process_member: MemberProcessor
    member_reject: str
    report: Report = field(default_factory=lambda: Report("zip"))
    folders: list[Folder] = field(default_factory=list)
    released: list[Released] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)

    def judge(self, index: int, member: SourceMember) -> None:
        if member.renamed_from is not None:
            self.report.add(
                "archive.name_undecodable", "renamed", 1, f"{member.renamed_from!r} → {member.name}"
            )
        if member.kind is MemberKind.FOLDER:
            self.folders.append(Folder(member.name, member.date_time))
            return
        if member.kind is not MemberKind.FILE:
            member.extract(_Discarded())
            self._refused(member.name, "archive.not_a_file", f"a {member.kind} entry is not extracted")
            return
        result = self._process(index, member)
        if result.released and result.output_path is not None and result.output_name:
            parent = PurePosixPath(member.name).parent
            output_name = str(parent / PurePosixPath(result.output_name).name)
            self.released.append(Released(member.name, member.date_time, result.output_path, output_name))
            for finding in result.findings:
                where = f"{member.name}: {finding.location}" if finding.location else member.name
                self.report.add(finding.construct, finding.action, finding.count, where)
            return
        code = result.reason_code or "sanitizer.crash"
        message = result.reason_message or "the member was not released"
        if code == "archive.bomb":
            # a bomb one level down is a bomb here too, whatever the rule says about members
            raise LimitError("archive.bomb", f"{member.name}: {message}")
        self._refused(member.name, code, message)

    def _refused(self, name: str, code: str, message: str) -> None:
        if self.member_reject == "reject_archive":
            raise PolicyError("archive.member_rejected", f"{name}: {code}: {message}")
        self.removed.append(Removed(name, code, message))
        self.report.add("archive.member", "dropped", 1, f"{name} ({code})")

    def _process(self, index: int, member: SourceMember) -> MemberResult:
        extracted = self.work / f"member-{index}"
        scratch = self.work / f"member-{index}.out"
        scratch.mkdir()
        try:
            with extracted.open("wb") as out:
                member.extract(out)
            return self.process_member(extracted, member.name, scratch)
        finally:
            extracted.unlink(missing_ok=True)


class _Discarded:
    """Where the data of an entry that is not extracted goes once it has been counted."""

    def write(self, data: bytes) -> int:
        return len(data)


def final_names(folders: list[Folder], released: list[Released], removed: list[Removed]) -> list[str]:
    """The name each released member gets in the new archive, in order: unique as Windows
    sees names, clear of the folders and of the list of removed members."""
    taken: set[str] = set()
    if removed:
        taken.add(collision_key(REMOVED_LIST_NAME))
    for folder in folders:
        taken.add(collision_key(folder.name))
    for item in released:
        parts = PurePosixPath(item.output_name).parts
        taken.update(collision_key("/".join(parts[:i])) for i in range(1, len(parts)))
    # Members that keep their name claim it first; a converted one (a.html → a.txt) yields.
    final: dict[int, str] = {}
    for unchanged in (True, False):
        for i, item in enumerate(released):
            if (item.output_name == item.name) == unchanged:
                final[i] = _unique(item.output_name, taken)
    return [final[i] for i in range(len(released))]


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``stem (2).ext`` etc. when Windows would see it as one already taken."""
    candidate, number = name, 2
    path = PurePosixPath(name)
    while collision_key(candidate) in taken:
        candidate = str(path.with_name(f"{path.stem} ({number}){path.suffix}"))
        number += 1
    taken.add(collision_key(candidate))
    return candidate


def now() -> DateTime:
    """The time the list of removed members is written."""
    t = time.localtime()
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def removed_list(removed: list[Removed]) -> bytes:
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
