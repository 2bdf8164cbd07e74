"""ZIP rebuild: every member through the whole pipeline, a new archive from what passes.

The central directory is judged first (``zipcheck``); then the shared member loop
(``members``) extracts members one at a time into a private scratch folder next to the
output (counted while they decompress), has the pipeline judge each one archive level
deeper, and the released results are written into a new ZIP with UTF-8 names.  A rejected
member is dropped and listed in ``_mukaika_removed.txt`` inside the output, or stops the
whole archive.  The writer and its check serve every archive rebuild whose output is a ZIP.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import ClassVar

from sanitizers.archives.budget import CHUNK, TreeBudget, tree_budget
from sanitizers.archives.members import (
    MEMBER_OPTIONS,
    REMOVED_LIST_NAME,
    DateTime,
    Folder,
    MemberKind,
    MemberLoop,
    Released,
    Removed,
    SourceMember,
    final_names,
    now,
    removed_list,
    scratch_beside,
)
from sanitizers.archives.names import UTF8_FLAG, collision_key, safe_member_path
from sanitizers.archives.zipcheck import Entry, check_entries, extract_entry, open_zip
from sanitizers.base import ContainerSanitizer, Limits, MemberProcessor, Options, OptionSpec, Report
from sanitizers.errors import MalformedError, VerifyError

_FILE_MODE = 0o100644 << 16
_FOLDER_MODE = (0o040755 << 16) | 0x10  # Unix mode, and the MS-DOS directory bit
_UNIX = 3


class ZipRebuild(ContainerSanitizer):
    """ZIP archives rebuilt member by member; each member judged by the whole pipeline."""

    types: ClassVar[frozenset[str]] = frozenset({"zip"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = MEMBER_OPTIONS

    def sanitize_container(
        self,
        untrusted_src: Path,
        dst: Path,
        options: Options,
        limits: Limits,
        process_member: MemberProcessor,
        name: str | None = None,
    ) -> Report:
        limits.checked_size(untrusted_src)
        resolved = self.resolved_options(options)
        with scratch_beside(dst) as work, tree_budget(limits) as budget, open_zip(untrusted_src) as archive:
            entries = check_entries(archive, untrusted_src, limits, str(resolved["undecodable_names"]))
            budget.take_members(len(entries), "archive")
            loop = MemberLoop(work, process_member, str(resolved["member_reject"]))
            for index, member in enumerate(zip_members(archive, entries, limits, budget)):
                loop.judge(index, member)
            output = work / "rebuilt.zip"
            names = write_archive(output, loop.folders, loop.released, loop.removed)
            verify_archive(output, names)
            output.replace(dst)
        return loop.report


def zip_members(
    archive: zipfile.ZipFile, entries: list[Entry], limits: Limits, budget: TreeBudget
) -> Iterator[SourceMember]:
    """The checked entries as the member loop takes them (a ZIP holds no links: zipcheck
    refuses them)."""
    for entry in entries:
        kind = MemberKind.FOLDER if entry.is_dir else MemberKind.FILE
        extract = partial(extract_entry, archive, entry, limits=limits, budget=budget)
        yield SourceMember(entry.name, kind, entry.info.date_time, extract, entry.renamed_from)


def _new_info(name: str, date_time: DateTime, folder: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.create_system = _UNIX
    info.external_attr = _FOLDER_MODE if folder else _FILE_MODE
    info.compress_type = zipfile.ZIP_STORED if folder else zipfile.ZIP_DEFLATED
    return info


def write_archive(
    output: Path, folders: list[Folder], released: list[Released], removed: list[Removed]
) -> list[str]:
    """Write the new archive; returns its names in order."""
    final = final_names(folders, released, removed)
    names: list[str] = []
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for folder in folders:
            archive.writestr(_new_info(folder.name, folder.date_time, folder=True), b"")
            names.append(folder.name)
        for item, final_name in zip(released, final, strict=True):
            info = _new_info(final_name, item.date_time, folder=False)
            info.file_size = item.output_path.stat().st_size  # lets zipfile pick ZIP64 up front
            with item.output_path.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
            item.output_path.unlink()
            names.append(final_name)
        if removed:
            archive.writestr(_new_info(REMOVED_LIST_NAME, now(), folder=False), removed_list(removed))
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
