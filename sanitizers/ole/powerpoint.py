"""PowerPoint 97-2003 (.ppt): which streams are kept and which presentations are refused.

Kept streams: ``PowerPoint Document``, ``Current User``, ``Pictures`` and the summary
streams when metadata is kept; everything else is dropped.  Nothing inside the kept
streams is changed here (pictures are rebuilt, shapes' DrawingML copies and round-trip
records emptied where they lie: ``pictures.py``, ``packages.py``): a ppt's VBA project and
OLE objects live inside ``PowerPoint Document`` (ExOleObjStg records reached through the
persist directory), and cutting them out would mean rewriting every persist offset.  Such
presentations are refused instead.

Every record of ``PowerPoint Document`` is walked, containers recursively; the top-level
records must tile the stream, and every offset the file uses to find a record (persist
directory, UserEditAtom, Current User) must point at one of them — so no record can hide
inside another's payload where the walk would not see it.

Refused: VBA (``ole.ppt_vba``); embedded or linked OLE objects, ActiveX controls and
actions that run a program, a macro or an OLE verb (``ole.active_content``); linked
movies and sounds, and hyperlinks whose target the ``links`` option refuses
(``ole.external_link``); encryption (``office.encrypted``).

VBA is what MS-PPT says it is: a VBAInfoAtom naming a persist object (the project's
ExOleObjStg) or saying ``fHasMacros``.  LibreOffice writes an empty VBAInfoContainer
(``persistIdRef = 0``, ``fHasMacros = 0``) into every presentation; that is no macro.

Why a refused hyperlink refuses the presentation rather than losing its target: the
target is a CString record, and making it shorter moves every record after it, so every
persist directory entry and UserEditAtom offset would have to be rewritten; overwriting
it in place (spaces, NULs) leaves a relative target, which PowerPoint resolves against
the share the file is opened from.  The rule's next method (PDF化) keeps the slides and
applies the same link policy.  Screen tips (ExHyperlink9) and in-presentation locations
are not targets and stay.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from sanitizers.base import Finding
from sanitizers.errors import EncryptedError, MalformedError, PolicyError
from sanitizers.links import KEEP_WEB, keep_link

MAIN_STREAM = "PowerPoint Document"
CURRENT_USER = "Current User"
KEPT_STREAMS = frozenset({MAIN_STREAM, CURRENT_USER, "Pictures"})
ENCRYPTED_SUMMARY = "EncryptedSummary"

_HEADER = 8
_MAX_DEPTH = 64
VBA_INFO_CONTAINER, VBA_INFO_ATOM = 0x03FF, 0x0400
_VBA_INFO_SIZE = 12  # persistIdRef, fHasMacros, version
EX_HYPERLINK = 0x0FD7  # ExHyperlinkContainer: an atom, then CStrings by instance
CSTRING = 0x0FBA
_TARGET_INSTANCE = 1  # the CString of an ExHyperlinkContainer holding the target
OBJECT_RECORDS = frozenset(
    {
        0x1011,  # ExOleObjStg: an OLE object's (or the VBA project's) compressed storage
        0x0FC3,  # ExOleObjAtom
        0x0FCC,  # ExOleEmbedContainer
        0x0FCD,  # ExOleEmbedAtom
        0x0FCE,  # ExOleLinkContainer
        0x0FD1,  # ExOleLinkAtom
        0x0FEE,  # ExControlContainer (ActiveX)
    }
)
EXTERNAL_MEDIA_RECORDS = frozenset({0x1006, 0x1007, 0x100E})  # ExAviMovie, ExMCIMovie, ExWAVAudioLink
CRYPT_SESSION = 0x2F14
#: A slide's comments live in its PowerPoint 2002 extension: a ProgBinaryTag named
#: ___PPT10, whose data blob is an atom holding records, Comment10Containers among them.
PROG_BINARY_TAG, BINARY_TAG_DATA = 0x138A, 0x138B
PPT10_TAG = "___PPT10"
COMMENT10 = 0x2EE0
INTERACTIVE_INFO = 0x0FF3
_ACTIVE_ACTIONS = {1: "macro", 2: "run program", 5: "OLE verb"}
PERSIST_DIRECTORY = 0x1772
USER_EDIT = 0x0FF5
_USER_EDIT_WITH_ENCRYPTION = 32  # UserEditAtom long enough to hold encryptSessionPersistIdRef
CURRENT_USER_ATOM = 0x0FF6
_TOKEN_ENCRYPTED = 0xF3D1C4DF


@dataclass(frozen=True)
class PptRecord:
    offset: int
    type: int
    data: bytes
    instance: int = 0
    is_container: bool = False


def _header(stream: bytes, pos: int, end: int) -> tuple[bool, int, int, int]:
    """(is a container, type, length, instance) of the record at ``pos``."""
    if pos + _HEADER > end:
        raise MalformedError("ole.malformed", f"truncated record header at {pos}")
    version_instance, record_type, length = struct.unpack_from("<HHI", stream, pos)
    if pos + _HEADER + length > end:
        raise MalformedError("ole.malformed", f"record {record_type:#06x} at {pos} runs past its parent")
    return version_instance & 0x000F == 0x000F, record_type, length, version_instance >> 4


def walk(stream: bytes) -> tuple[list[PptRecord], set[int]]:
    """Every record (containers' children included) and the offsets of the top-level ones."""
    found: list[PptRecord] = []
    top_level: set[int] = set()
    pending = [(0, len(stream), 0)]  # (start, end, depth) of record sequences to walk
    while pending:
        pos, end, depth = pending.pop()
        if depth > _MAX_DEPTH:
            raise MalformedError("ole.malformed", f"records nested deeper than {_MAX_DEPTH}")
        while pos < end:
            is_container, record_type, length, instance = _header(stream, pos, end)
            if depth == 0:
                top_level.add(pos)
            body = pos + _HEADER
            data = b"" if is_container else stream[body : body + length]
            found.append(PptRecord(pos, record_type, data, instance, is_container))
            if is_container:
                pending.append((body, body + length, depth + 1))
            pos = body + length
    return found, top_level


def _u32s(data: bytes, offset: int, count: int) -> tuple[int, ...]:
    if offset + 4 * count > len(data):
        raise MalformedError("ole.malformed", "truncated persist data")
    return struct.unpack_from(f"<{count}I", data, offset)


def _record_offsets(record: PptRecord) -> list[int]:
    """Stream offsets a persist directory or UserEditAtom points at."""
    if record.type == USER_EDIT:
        last_edit, persist_directory = _u32s(record.data, 8, 2)
        return [persist_directory] + ([last_edit] if last_edit else [])
    offsets: list[int] = []
    pos = 0
    while pos < len(record.data):
        (entry,) = _u32s(record.data, pos, 1)
        count = entry >> 20
        offsets.extend(_u32s(record.data, pos + 4, count))
        pos += 4 + 4 * count
    return offsets


def _check_current_user(current_user: bytes, top_level: set[int]) -> None:
    if len(current_user) < _HEADER + 12:
        raise MalformedError("ole.malformed", "Current User stream is too short")
    _ver, record_type, _length, _size, token, current_edit = struct.unpack_from("<HHIIII", current_user, 0)
    if record_type != CURRENT_USER_ATOM:
        raise MalformedError("ole.malformed", "Current User does not hold a CurrentUserAtom")
    if token == _TOKEN_ENCRYPTED:
        raise EncryptedError("office.encrypted", "Current User marks the presentation as encrypted")
    if current_edit not in top_level:
        raise MalformedError("ole.malformed", f"Current User points at {current_edit}, not at a record")


def _check_record(record: PptRecord) -> None:
    if record.type == CRYPT_SESSION or (
        record.type == USER_EDIT and len(record.data) >= _USER_EDIT_WITH_ENCRYPTION
    ):
        raise EncryptedError("office.encrypted", "the presentation is encrypted")
    if record.type in OBJECT_RECORDS:
        raise PolicyError(
            "ole.active_content", f"an embedded or linked OLE object (record {record.type:#06x})"
        )
    if record.type in EXTERNAL_MEDIA_RECORDS:
        raise PolicyError("ole.external_link", f"a linked movie or sound (record {record.type:#06x})")
    if record.type == INTERACTIVE_INFO and len(record.data) > 8:
        action = _ACTIVE_ACTIONS.get(record.data[8])
        if action is not None:
            raise PolicyError("ole.active_content", f"a click or hover action that runs a {action}")


def children(stream: bytes, container: PptRecord) -> list[PptRecord]:
    """The records directly inside ``container`` (already checked by ``walk``)."""
    _is_container, _type, length, _instance = _header(stream, container.offset, len(stream))
    pos, end = container.offset + _HEADER, container.offset + _HEADER + length
    found = []
    while pos < end:
        is_container, record_type, length, instance = _header(stream, pos, end)
        body = pos + _HEADER
        data = b"" if is_container else stream[body : body + length]
        found.append(PptRecord(pos, record_type, data, instance, is_container))
        pos = body + length
    return found


def _is_empty_vba_info(atom: PptRecord) -> bool:
    """A VBAInfoAtom that names no project: persistIdRef 0 and fHasMacros 0 (MS-PPT 2.4.10)."""
    if atom.type != VBA_INFO_ATOM or atom.is_container or len(atom.data) < _VBA_INFO_SIZE:
        return False
    persist_id_ref, has_macros = struct.unpack_from("<II", atom.data, 0)
    return bool(persist_id_ref == 0 and has_macros == 0)


def check_vba(stream: bytes, found: list[PptRecord]) -> None:
    """Refuse a VBA project: VBA info that is anything but one empty VBAInfoAtom."""
    for record in found:
        if record.type == VBA_INFO_CONTAINER:
            inside = children(stream, record) if record.is_container else []
            if not inside or not all(_is_empty_vba_info(child) for child in inside):
                raise PolicyError("ole.ppt_vba", "the presentation carries a VBA project")
        elif record.type == VBA_INFO_ATOM and not _is_empty_vba_info(record):
            raise PolicyError("ole.ppt_vba", "the presentation carries a VBA project")


def hyperlink_targets(stream: bytes, found: list[PptRecord]) -> list[str]:
    """The target of every ExHyperlinkContainer (its CString of instance 1)."""
    targets = []
    for record in found:
        if record.type == EX_HYPERLINK and record.is_container:
            for child in children(stream, record):
                if child.type == CSTRING and child.instance == _TARGET_INSTANCE and not child.is_container:
                    targets.append(child.data.decode("utf-16-le", errors="replace"))
    return targets


def comment_count(streams: Mapping[str, bytes]) -> int:
    """How many comments the slides have (Comment10Containers, MS-PPT 2.4.20.2)."""
    document = streams.get(MAIN_STREAM)
    if document is None:
        raise MalformedError("ole.malformed", "no PowerPoint Document stream")
    found, _ = walk(document)
    count = sum(1 for record in found if record.type == COMMENT10)
    for record in found:
        if record.type != PROG_BINARY_TAG or not record.is_container:
            continue
        inside = children(document, record)
        names = {c.data.decode("utf-16-le", errors="replace") for c in inside if c.type == CSTRING}
        if PPT10_TAG in names:
            for blob in inside:
                if blob.type == BINARY_TAG_DATA and not blob.is_container:
                    extension, _ = walk(blob.data)
                    count += sum(1 for r in extension if r.type == COMMENT10)
    return count


def clean_powerpoint(
    streams: Mapping[str, bytes], links: str = KEEP_WEB
) -> tuple[dict[str, bytes], list[Finding]]:
    """The streams to write (unchanged) and findings, or a refusal; ``links`` is the
    rule's link option."""
    document = streams.get(MAIN_STREAM)
    current_user = streams.get(CURRENT_USER)
    if document is None or current_user is None:
        raise MalformedError("ole.malformed", "no PowerPoint Document or Current User stream")
    found, top_level = walk(document)
    check_vba(document, found)  # VBA first: its storage is an object too
    for record in found:
        _check_record(record)
    refused = [
        target for target in hyperlink_targets(document, found) if target and not keep_link(target, links)
    ]
    if refused:
        raise PolicyError(
            "ole.external_link", f"{len(refused)} hyperlink(s) to targets the links option refuses"
        )
    _check_current_user(current_user, top_level)
    for record in found:
        if record.type in (PERSIST_DIRECTORY, USER_EDIT):
            stray = [o for o in _record_offsets(record) if o not in top_level]
            if stray:
                raise MalformedError("ole.malformed", f"persist offset {stray[0]} does not start a record")
    return dict(streams), []
