"""A compound-file (MS-CFB version 3) writer: a fresh file from a tree of streams.

No maintained Python library writes compound files from scratch (olefile only reads and
overwrites in place), and the OLE rebuild must write a new file that holds only the
streams it chose.  The layout is the simplest valid one: 512-byte sectors; streams
smaller than 4096 bytes in the mini stream; then, in order, big streams, the mini
stream, the MiniFAT, the directory, the FAT and the DIFAT.  Nothing of an input's
layout survives, so slack space, orphaned sectors and stale directory entries vanish.
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SECTOR_SIZE = 512
MINI_SECTOR_SIZE = 64
MINI_STREAM_CUTOFF = 4096
HEADER_DIFAT_SLOTS = 109
ROOT_NAME = "Root Entry"
MAX_NAME_UNITS = 31  # UTF-16 code units; the 32nd is the terminating NUL
FORBIDDEN_NAME_CHARS = frozenset("/\\:!")

_IDS_PER_SECTOR = SECTOR_SIZE // 4
_ENTRIES_PER_SECTOR = SECTOR_SIZE // 128
FREESECT = 0xFFFFFFFF
ENDOFCHAIN = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD
DIFSECT = 0xFFFFFFFC
NOSTREAM = 0xFFFFFFFF

_STORAGE, _STREAM, _ROOT = 1, 2, 5
_RED, _BLACK = 0, 1


@dataclass
class _Node:
    name: str
    is_storage: bool
    data: bytes = b""
    children: dict[str, _Node] = field(default_factory=dict)  # by cfb_name_key


@dataclass
class _Entry:
    name: str
    kind: int
    clsid: bytes = bytes(16)
    colour: int = _BLACK
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    start: int = ENDOFCHAIN
    size: int = 0
    data: bytes = b""


def cfb_name_key(name: str) -> tuple[int, str]:
    """How CFB orders sibling names: by UTF-16 length first, then by upper-cased characters."""
    units = len(name.encode("utf-16-le")) // 2
    return units, "".join(ch.upper() if len(ch.upper()) == 1 else ch for ch in name)


def _check_name(name: str, path: str) -> None:
    if not name:
        raise ValueError(f"{path!r}: empty name")
    if len(name.encode("utf-16-le")) // 2 > MAX_NAME_UNITS:
        raise ValueError(f"{path!r}: {name!r} is longer than {MAX_NAME_UNITS} UTF-16 units")
    if FORBIDDEN_NAME_CHARS & set(name):
        raise ValueError(f"{path!r}: {name!r} contains one of / \\ : !")


def _build_tree(tree: Mapping[str, bytes]) -> _Node:
    root = _Node(ROOT_NAME, is_storage=True)
    for path, data in tree.items():
        parts = path.split("/")
        node = root
        for depth, name in enumerate(parts):
            _check_name(name, path)
            is_last = depth == len(parts) - 1
            key = cfb_name_key(name)[1]
            existing = node.children.get(key)
            if existing is None:
                existing = node.children[key] = _Node(
                    name, is_storage=not is_last, data=data if is_last else b""
                )
            elif is_last or not existing.is_storage or existing.name != name:
                raise ValueError(f"{path!r} collides with another stream or storage")
            node = existing
    return root


def _flatten(root: _Node, root_clsid: uuid.UUID | None) -> list[_Entry]:
    """Directory entries in pre-order; each storage's children form a balanced search tree."""
    entries = [_Entry(ROOT_NAME, _ROOT, clsid=root_clsid.bytes_le if root_clsid else bytes(16))]
    pending = [(root, 0)]
    while pending:
        storage, storage_id = pending.pop()
        children = sorted(storage.children.values(), key=lambda n: cfb_name_key(n.name))
        first_id = len(entries)
        for child in children:
            kind = _STORAGE if child.is_storage else _STREAM
            entries.append(_Entry(child.name, kind, size=len(child.data), data=child.data))
        ids = list(range(first_id, len(entries)))
        entries[storage_id].child = _link_balanced(entries, ids, _full_levels(len(ids)), 1)
        pending.extend((child, first_id + i) for i, child in enumerate(children) if child.is_storage)
    return entries


def _full_levels(count: int) -> int:
    return int(math.log2(count + 1)) if count else 0


def _link_balanced(entries: list[_Entry], ids: list[int], full_levels: int, depth: int) -> int:
    """Link ``ids`` (sorted) as a binary search tree split at the middle; return its root.

    Such a tree has every level full except maybe the last.  Colouring that last level
    red and the rest black gives every root-to-leaf path the same number of black nodes,
    so the directory is a genuine red-black tree, as MS-CFB asks.
    """
    if not ids:
        return NOSTREAM
    middle = (len(ids) - 1) // 2
    node = entries[ids[middle]]
    node.colour = _RED if depth > full_levels else _BLACK
    node.left = _link_balanced(entries, ids[:middle], full_levels, depth + 1)
    node.right = _link_balanced(entries, ids[middle + 1 :], full_levels, depth + 1)
    return ids[middle]


def _sectors_for(size: int, sector: int) -> int:
    return -(-size // sector)


def _chain(fat: list[int], start: int, count: int) -> int:
    """Mark ``count`` consecutive sectors from ``start`` as one chain; return its start."""
    if count == 0:
        return ENDOFCHAIN
    fat[start : start + count - 1] = range(start + 1, start + count)
    fat[start + count - 1] = ENDOFCHAIN
    return start


def _pad(data: bytes, unit: int) -> bytes:
    return data + bytes(-len(data) % unit)


def _pack_ids(ids: list[int]) -> bytes:
    return struct.pack(f"<{len(ids)}I", *ids)


def _pack_entry(entry: _Entry | None) -> bytes:
    if entry is None:  # a free slot: all zero but the three tree links
        return bytes(68) + struct.pack("<3I", NOSTREAM, NOSTREAM, NOSTREAM) + bytes(48)
    encoded = entry.name.encode("utf-16-le")
    return struct.pack(
        "<64sHBB3I16sI8s8sIQ",
        encoded,
        len(encoded) + 2,
        entry.kind,
        entry.colour,
        entry.left,
        entry.right,
        entry.child,
        entry.clsid,
        0,
        bytes(8),
        bytes(8),
        entry.start,
        entry.size,
    )


def compound_file_bytes(root_clsid: uuid.UUID | None, tree: Mapping[str, bytes]) -> bytes:
    """A complete compound file holding ``tree`` ({"Storage/Stream": bytes}).

    Storages are implied by the paths.  Names are checked (non-empty, at most 31 UTF-16
    units, none of ``/ \\ : !``, unique under CFB's case-insensitive comparison):
    a bad tree is a programming error and raises ValueError.
    """
    entries = _flatten(_build_tree(tree), root_clsid)
    streams = [e for e in entries if e.kind == _STREAM]
    big = [e for e in streams if e.size >= MINI_STREAM_CUTOFF]

    mini_fat: list[int] = []
    mini_parts: list[bytes] = []
    for entry in streams:
        if 0 < entry.size < MINI_STREAM_CUTOFF:
            count = _sectors_for(entry.size, MINI_SECTOR_SIZE)
            mini_fat.extend([FREESECT] * count)
            entry.start = _chain(mini_fat, len(mini_fat) - count, count)
            mini_parts.append(_pad(entry.data, MINI_SECTOR_SIZE))
    mini_stream = b"".join(mini_parts)
    mini_fat_bytes = _pad(_pack_ids(mini_fat), SECTOR_SIZE) if mini_fat else b""

    # Sector counts of everything but the FAT and DIFAT, which must also map themselves.
    big_counts = [_sectors_for(e.size, SECTOR_SIZE) for e in big]
    mini_stream_sectors = _sectors_for(len(mini_stream), SECTOR_SIZE)
    mini_fat_sectors = len(mini_fat_bytes) // SECTOR_SIZE
    dir_sectors = _sectors_for(len(entries), _ENTRIES_PER_SECTOR)
    data_sectors = sum(big_counts) + mini_stream_sectors + mini_fat_sectors + dir_sectors
    fat_sectors = difat_sectors = 0
    while fat_sectors * _IDS_PER_SECTOR < data_sectors + fat_sectors + difat_sectors:
        fat_sectors += 1
        difat_sectors = _sectors_for(max(0, fat_sectors - HEADER_DIFAT_SLOTS), _IDS_PER_SECTOR - 1)

    fat = [FREESECT] * (fat_sectors * _IDS_PER_SECTOR)
    next_free = 0
    for entry, count in zip(big, big_counts, strict=True):
        entry.start = _chain(fat, next_free, count)
        next_free += count
    root = entries[0]
    root.start = _chain(fat, next_free, mini_stream_sectors)
    root.size = len(mini_stream)
    next_free += mini_stream_sectors
    first_mini_fat = _chain(fat, next_free, mini_fat_sectors)
    next_free += mini_fat_sectors
    first_dir = _chain(fat, next_free, dir_sectors)
    next_free += dir_sectors
    fat_ids = list(range(next_free, next_free + fat_sectors))
    fat[next_free : next_free + fat_sectors] = [FATSECT] * fat_sectors
    next_free += fat_sectors
    difat_ids = list(range(next_free, next_free + difat_sectors))
    fat[next_free : next_free + difat_sectors] = [DIFSECT] * difat_sectors

    directory = b"".join(_pack_entry(e) for e in entries)
    directory += _pack_entry(None) * (dir_sectors * _ENTRIES_PER_SECTOR - len(entries))
    header_difat = fat_ids[:HEADER_DIFAT_SLOTS]
    header_difat += [FREESECT] * (HEADER_DIFAT_SLOTS - len(header_difat))
    header = (
        SIGNATURE
        + bytes(16)
        + struct.pack(
            "<HHHHH6sIIIIIIIII",
            0x003E,  # minor version
            3,  # major version: 512-byte sectors
            0xFFFE,  # little-endian
            9,  # sector shift: 2**9 = 512
            6,  # mini sector shift: 2**6 = 64
            bytes(6),
            0,  # directory sector count: must be 0 in version 3
            fat_sectors,
            first_dir,
            0,  # transaction signature
            MINI_STREAM_CUTOFF,
            first_mini_fat,
            mini_fat_sectors,
            difat_ids[0] if difat_ids else ENDOFCHAIN,
            difat_sectors,
        )
        + _pack_ids(header_difat)
    )
    return b"".join(
        [
            header,
            *(_pad(e.data, SECTOR_SIZE) for e in big),
            _pad(mini_stream, SECTOR_SIZE),
            mini_fat_bytes,
            directory,
            _pack_ids(fat),
            _difat_sectors(fat_ids[HEADER_DIFAT_SLOTS:], difat_ids),
        ]
    )


def _difat_sectors(fat_ids: list[int], difat_ids: list[int]) -> bytes:
    """FAT sector numbers beyond the header's 109, 127 per sector, each sector naming the next."""
    per_sector = _IDS_PER_SECTOR - 1
    parts = []
    for i in range(len(difat_ids)):
        ids = fat_ids[i * per_sector : (i + 1) * per_sector]
        ids += [FREESECT] * (per_sector - len(ids))
        ids.append(difat_ids[i + 1] if i + 1 < len(difat_ids) else ENDOFCHAIN)
        parts.append(_pack_ids(ids))
    return b"".join(parts)


def write_compound_file(path: Path, root_clsid: uuid.UUID | None, tree: Mapping[str, bytes]) -> None:
    """Write ``compound_file_bytes(root_clsid, tree)`` to ``path``."""
    path.write_bytes(compound_file_bytes(root_clsid, tree))
