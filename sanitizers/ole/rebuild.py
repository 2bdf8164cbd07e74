"""Office 97-2003 rebuild (doc, xls, ppt): a new compound file of allow-listed streams.

The input is read with olefile under limits (``inspect.py``); the application's module
(``word.py``, ``excel.py``, ``powerpoint.py``) decides which top-level streams are kept,
what is neutralised inside them and what makes the file unsafe to release; a fresh
compound file is written with ``cfb_writer.py``.  No storage is ever kept, so VBA
projects, object pools and embedded objects cannot survive whatever they are called.
The ZIP packages Office 2007 and later write into them (a shape's DrawingML copy, a theme, a
presentation's other round-trip records) are removed where they lie (``packages.py``), then
the pictures in the kept streams are rebuilt from their pixels where they lie (``pictures.py``).
The output is then re-opened strictly and put through the same checks again.

The text is kept byte for byte, so comments cannot be cut out of it: with
``comments = "remove"`` a file that has any is refused (``ole.comments``), and the rule's
next method (PDF化, which prints no comments) takes over.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sanitizers.base import Finding, Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.errors import EncryptedError, MalformedError, PolicyError, SanitizeError, VerifyError
from sanitizers.links import CHOICES as LINK_CHOICES
from sanitizers.links import KEEP_WEB
from sanitizers.ole import excel, packages, pictures, powerpoint, word
from sanitizers.ole.cfb_writer import compound_file_bytes
from sanitizers.ole.inspect import (
    OBJECT_DATA_NAMES,
    SUMMARY_STREAMS,
    VBA_NAMES,
    CompoundFile,
    OleEntry,
    open_compound,
    printable_name,
)
from sanitizers.output import write_atomically

#: (the allow-listed streams, the rule's ``links`` option) → the streams to write and findings
Cleaner = Callable[[Mapping[str, bytes], str], tuple[dict[str, bytes], list[Finding]]]
#: the allow-listed streams → how many comments the document has
CommentCounter = Callable[[Mapping[str, bytes]], int]

#: Streams that only an encrypted file has (detection already refuses the OOXML ones
#: wrapped in a compound file; an encrypted ppt keeps its summary here).
ENCRYPTION_STREAMS = frozenset({"encryptedsummary", "encryptioninfo", "encryptedpackage"})


@dataclass(frozen=True)
class OleFormat:
    type_name: str
    main_streams: frozenset[str]
    kept_streams: frozenset[str]
    clean: Cleaner
    #: root CLSIDs the application writes; the first is written when the input's is another
    clsids: tuple[uuid.UUID, ...]
    count_comments: CommentCounter
    #: removes the ZIP packages of the streams to write
    remove_packages: packages.PackageRemover
    #: rebuilds the pictures of the streams to write (or, verifying, checks them)
    rebuild_pictures: pictures.PictureRewriter


FORMATS: tuple[OleFormat, ...] = (
    OleFormat(
        "doc",
        frozenset({word.MAIN_STREAM}),
        word.KEPT_STREAMS,
        word.clean_word,
        (
            uuid.UUID("00020906-0000-0000-c000-000000000046"),
            uuid.UUID("00020900-0000-0000-c000-000000000046"),
        ),
        word.comment_count,
        packages.word_packages,
        pictures.word_pictures,
    ),
    OleFormat(
        "xls",
        frozenset({excel.MAIN_STREAM, excel.BIFF5_STREAM}),
        excel.KEPT_STREAMS,
        excel.clean_excel,
        (
            uuid.UUID("00020820-0000-0000-c000-000000000046"),
            uuid.UUID("00020810-0000-0000-c000-000000000046"),
        ),
        excel.comment_count,
        packages.workbook_packages,
        pictures.workbook_pictures,
    ),
    OleFormat(
        "ppt",
        frozenset({powerpoint.MAIN_STREAM}),
        powerpoint.KEPT_STREAMS,
        powerpoint.clean_powerpoint,
        (
            uuid.UUID("64818d10-4f9b-11cf-86ea-00aa00b929e8"),
            uuid.UUID("64818d11-4f9b-11cf-86ea-00aa00b929e8"),
        ),
        powerpoint.comment_count,
        packages.powerpoint_packages,
        pictures.powerpoint_pictures,
    ),
)


class OleRebuild(Sanitizer):
    """CDR for Word, Excel and PowerPoint 97-2003: the document's own streams, nothing else."""

    types: ClassVar[frozenset[str]] = frozenset(f.type_name for f in FORMATS)
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "metadata": OptionSpec(
            "remove",
            "remove or keep the summary property streams (author, title, company, thumbnail)",
            choices=("remove", "keep"),
        ),
        "links": OptionSpec(
            KEEP_WEB,
            "hyperlinks kept only for http, https and mailto; in .doc and .ppt a refused one refuses"
            " the file (the rule's next method, such as pdf, takes over), in .xls it is removed",
            choices=LINK_CHOICES,
        ),
        "comments": OptionSpec(
            "keep",
            "keep leaves comments; remove refuses a file that has any, since its text is kept byte for"
            " byte (the rule's next method, such as pdf, takes over: it prints no comments)",
            choices=("keep", "remove"),
        ),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        chosen = self.resolved_options(options)
        keep_metadata, links = chosen["metadata"] == "keep", str(chosen["links"])
        with open_compound(limits.read_file(untrusted_src), limits) as compound:
            ole_format = format_of(compound)
            allowed = ole_format.kept_streams | (SUMMARY_STREAMS if keep_metadata else frozenset())
            streams = _read_allowed(compound, allowed)
            entries = compound.entries
            root_clsid = compound.root_clsid
        kept, findings = ole_format.clean(streams, links)
        if chosen["comments"] == "remove":
            _refuse_comments(ole_format, streams)
        kept, package_findings = ole_format.remove_packages(kept)
        findings += package_findings
        kept, picture_findings = ole_format.rebuild_pictures(kept, pictures.RebuildPicture(limits))
        findings += picture_findings
        clsid = root_clsid if root_clsid in ole_format.clsids else ole_format.clsids[0]
        rebuilt = compound_file_bytes(clsid, kept)
        verify_rebuilt(rebuilt, ole_format, kept, limits, links)
        write_atomically(dst, rebuilt)
        report = Report(ole_format.type_name)
        for finding in _dropped_entries(entries, set(kept)):
            report.add(finding.construct, finding.action, finding.count, finding.location)
        if clsid != root_clsid:
            report.add("ole.root_clsid", "repaired", location=f"was {root_clsid or 'empty'}")
        for finding in findings:
            report.add(finding.construct, finding.action, finding.count, finding.location)
        return report


def format_of(compound: CompoundFile) -> OleFormat:
    """The one application whose main stream the file holds; refuse encrypted files."""
    names = {name.lower() for name in compound.top_level_streams()}
    if names & ENCRYPTION_STREAMS:
        raise EncryptedError("office.encrypted", "the compound file holds encryption streams")
    found = [f for f in FORMATS if {m.lower() for m in f.main_streams} & names]
    if len(found) != 1:
        kinds = ", ".join(f.type_name for f in found) or "none"
        raise MalformedError(
            "ole.malformed", f"expected the streams of one Office application, found {kinds}"
        )
    return found[0]


def _refuse_comments(ole_format: OleFormat, streams: Mapping[str, bytes]) -> None:
    comments = ole_format.count_comments(streams)
    if comments:
        raise PolicyError(
            "ole.comments", f"{comments} comment(s), which cannot be cut out of text kept byte for byte"
        )


def _read_allowed(compound: CompoundFile, allowed: frozenset[str]) -> dict[str, bytes]:
    """Allowed top-level streams under their canonical names (CFB names ignore case)."""
    canonical = {name.lower(): name for name in allowed}
    streams: dict[str, bytes] = {}
    for name in compound.top_level_streams():
        wanted = canonical.get(name.lower())
        if wanted is None:
            continue
        if wanted in streams:
            raise MalformedError("ole.malformed", f"two streams named {printable_name(wanted)!r}")
        streams[wanted] = compound.read(name)
    return streams


def _dropped_entries(entries: list[OleEntry], kept: set[str]) -> list[Finding]:
    """What each top-level entry that was not written was, as findings."""
    kept_lower = {name.lower() for name in kept}
    counts: Counter[tuple[str, str]] = Counter()
    locations: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        if len(entry.path) != 1 or entry.name.lower() in kept_lower:
            continue
        key, count = _dropped_construct(entry, entries)
        counts[key] += count
        locations.setdefault(key, []).append(printable_name(entry.name))
    return [
        Finding(construct, action, counts[construct, action], ", ".join(sorted(locations[construct, action])))
        for construct, action in sorted(counts)
    ]


def _dropped_construct(entry: OleEntry, entries: list[OleEntry]) -> tuple[tuple[str, str], int]:
    name = entry.name.lower()
    if name in VBA_NAMES:
        return ("ole.vba_macros", "removed"), 1
    if entry.is_storage and name == "objectpool":
        objects = sum(1 for e in entries if len(e.path) == 2 and e.path[0] == entry.name and e.is_storage)
        if objects:
            return ("ole.embedded_object", "removed"), objects
    if entry.is_storage and name.startswith("mbd"):
        return ("ole.embedded_object", "removed"), 1
    if name in OBJECT_DATA_NAMES or name.startswith("\x02olepres"):
        return ("ole.object_data", "removed"), 1
    if entry.name in SUMMARY_STREAMS:
        return ("ole.metadata", "removed"), 1
    return ("ole.unlisted_entry", "dropped"), 1


def verify_rebuilt(
    rebuilt: bytes, ole_format: OleFormat, expected: Mapping[str, bytes], limits: Limits, links: str
) -> None:
    """Re-open the output strictly: exactly the allow-listed streams, and clean again finds nothing."""
    streams = verify_compound(rebuilt, ole_format, ole_format.kept_streams | SUMMARY_STREAMS, limits, links)
    if set(streams) != set(expected):
        raise VerifyError("ole.verify_failed", f"unexpected streams {sorted(set(streams) ^ set(expected))}")
    if streams != expected:
        raise VerifyError("ole.verify_failed", "a stream reads back differently from what was written")


def verify_compound(
    untrusted_data: bytes, ole_format: OleFormat, allowed: frozenset[str], limits: Limits, links: str
) -> dict[str, bytes]:
    """The checks that need nothing but the file (the gateway's verifier has nothing else):
    a correct compound file of ``ole_format`` with no storage, only ``allowed`` top-level
    streams, which cleaning again would leave as they are, with no package left and pictures
    as the rebuild writes them.  Returns the streams."""
    try:
        with open_compound(untrusted_data, limits, strict=True) as output:
            if any(entry.is_storage for entry in output.entries):
                raise VerifyError("ole.verify_failed", "the output holds a storage")
            names = set(output.top_level_streams())
            if not names <= allowed:
                raise VerifyError(
                    "ole.verify_failed", f"streams not on the allow-list {sorted(names - allowed)}"
                )
            if format_of(output) is not ole_format or output.root_clsid not in ole_format.clsids:
                raise VerifyError(
                    "ole.verify_failed", f"not a {ole_format.type_name} as the rebuild writes one"
                )
            streams = {name: output.read(name) for name in names}
        again, findings = ole_format.clean(streams, links)
        again, package_findings = ole_format.remove_packages(again)
        findings += package_findings
        again, picture_findings = ole_format.rebuild_pictures(again, pictures.CheckPicture(limits))
        findings += picture_findings
    except VerifyError:
        raise
    except SanitizeError as exc:
        raise VerifyError("ole.verify_failed", f"the output fails its own checks: {exc}") from None
    if again != streams or any(f.action != "kept" for f in findings):
        raise VerifyError("ole.verify_failed", "cleaning the output again would still change it")
    return streams
