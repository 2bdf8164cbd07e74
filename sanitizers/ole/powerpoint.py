"""PowerPoint 97-2003 (.ppt): which streams are kept and which presentations are refused.

Kept streams: ``PowerPoint Document``, ``Current User``, ``Pictures`` and the summary
streams when metadata is kept; everything else is dropped.  Nothing inside the kept
streams is changed: a ppt's VBA project and OLE objects live inside ``PowerPoint
Document`` (ExOleObjStg records reached through the persist directory), and cutting them
out would mean rewriting every persist offset.  Such presentations are refused instead.

Every record of ``PowerPoint Document`` is walked, containers recursively; the top-level
records must tile the stream, and every offset the file uses to find a record (persist
directory, UserEditAtom, Current User) must point at one of them — so no record can hide
inside another's payload where the walk would not see it.

Refused: VBA (``ole.ppt_vba``); embedded or linked OLE objects, ActiveX controls and
actions that run a program, a macro or an OLE verb (``ole.active_content``); linked
movies and sounds (``ole.external_link``); encryption (``office.encrypted``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from sanitizers.base import Finding
from sanitizers.errors import EncryptedError, MalformedError, PolicyError

MAIN_STREAM = "PowerPoint Document"
CURRENT_USER = "Current User"
KEPT_STREAMS = frozenset({MAIN_STREAM, CURRENT_USER, "Pictures"})
ENCRYPTED_SUMMARY = "EncryptedSummary"

_HEADER = 8
_MAX_DEPTH = 64
VBA_RECORDS = frozenset({0x03FF, 0x0400})  # VBAInfoContainer, VBAInfoAtom
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


def _header(stream: bytes, pos: int, end: int) -> tuple[bool, int, int]:
    if pos + _HEADER > end:
        raise MalformedError("ole.malformed", f"truncated record header at {pos}")
    version_instance, record_type, length = struct.unpack_from("<HHI", stream, pos)
    if pos + _HEADER + length > end:
        raise MalformedError("ole.malformed", f"record {record_type:#06x} at {pos} runs past its parent")
    return version_instance & 0x000F == 0x000F, record_type, length


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
            is_container, record_type, length = _header(stream, pos, end)
            if depth == 0:
                top_level.add(pos)
            body = pos + _HEADER
            found.append(PptRecord(pos, record_type, b"" if is_container else stream[body : body + length]))
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
    if record.type in VBA_RECORDS:
        raise PolicyError("ole.ppt_vba", "the presentation carries a VBA project")
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


def clean_powerpoint(streams: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[Finding]]:
    """The streams to write (unchanged) and findings, or a refusal."""
    document = streams.get(MAIN_STREAM)
    current_user = streams.get(CURRENT_USER)
    if document is None or current_user is None:
        raise MalformedError("ole.malformed", "no PowerPoint Document or Current User stream")
    found, top_level = walk(document)
    vba = [r for r in found if r.type in VBA_RECORDS]  # VBA first: its storage is an object too
    for record in vba + found:
        _check_record(record)
    _check_current_user(current_user, top_level)
    for record in found:
        if record.type in (PERSIST_DIRECTORY, USER_EDIT):
            stray = [o for o in _record_offsets(record) if o not in top_level]
            if stray:
                raise MalformedError("ole.malformed", f"persist offset {stray[0]} does not start a record")
    return dict(streams), []
