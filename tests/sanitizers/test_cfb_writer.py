"""The compound-file writer: every tree reads back byte for byte through olefile, strictly."""

from __future__ import annotations

import os
import struct
import uuid
from pathlib import Path

import olefile
import pytest

from sanitizers.ole.cfb_writer import (
    HEADER_DIFAT_SLOTS,
    MINI_STREAM_CUTOFF,
    SECTOR_SIZE,
    cfb_name_key,
    compound_file_bytes,
    write_compound_file,
)

RED, BLACK = 0, 1  # directory entry colours (MS-CFB 2.6.1)
WORD_CLSID = uuid.UUID("00020906-0000-0000-c000-000000000046")


def read_back(data: bytes) -> dict[str, bytes]:
    """Every stream, through olefile refusing anything it calls incorrect."""
    with olefile.OleFileIO(data, raise_defects=olefile.DEFECT_INCORRECT) as ole:
        return {"/".join(path): ole.openstream(path).read() for path in ole.listdir()}


def header_field(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


TREES: dict[str, dict[str, bytes]] = {
    "nothing": {},
    "one empty stream": {"empty": b""},
    "around the mini-stream cutoff": {
        "below": os.urandom(MINI_STREAM_CUTOFF - 1),
        "at": os.urandom(MINI_STREAM_CUTOFF),
        "above": os.urandom(MINI_STREAM_CUTOFF + 1),
        "empty": b"",
        "one byte": b"x",
    },
    "sector-sized streams": {f"s{n}": os.urandom(n * SECTOR_SIZE) for n in (8, 9, 16)},
    "deep storages": {
        "/".join(f"level{i}" for i in range(depth)) + "/leaf": os.urandom(depth * 97)
        for depth in range(1, 25)
    },
    "many siblings": {f"stream{i:04}": os.urandom(i % 700) for i in range(700)},
    "many storages": {f"storage{i}/inner{j}/data": os.urandom(50 + j) for i in range(40) for j in range(5)},
    "unusual names": {
        "\x01CompObj": b"c",
        "\x05SummaryInformation": b"s",
        "日本語のストリーム": "本文".encode(),
        "0123456789012345678901234567890": b"31 characters",
        "ObjectPool/_1572085698/\x01Ole10Native": b"native",
    },
}


@pytest.mark.parametrize("name", sorted(TREES))
def test_trees_read_back_byte_for_byte(name: str) -> None:
    tree = TREES[name]
    assert read_back(compound_file_bytes(WORD_CLSID, tree)) == tree


def test_streams_beyond_109_fat_sectors_need_and_get_a_difat(tmp_path: Path) -> None:
    big = os.urandom(9 * 1024 * 1024)  # 18 432 sectors: 144 FAT sectors
    path = tmp_path / "big.ole"
    write_compound_file(path, None, {"big": big, "small": b"abc"})
    data = path.read_bytes()
    fat_sectors, difat_sectors = header_field(data, 0x2C), header_field(data, 0x48)
    assert fat_sectors > HEADER_DIFAT_SLOTS and difat_sectors == 1
    assert read_back(data) == {"big": big, "small": b"abc"}


def test_root_clsid_is_kept_and_absent_means_null() -> None:
    with olefile.OleFileIO(compound_file_bytes(WORD_CLSID, {"a": b"1"})) as ole:
        assert ole.root.clsid.lower() == str(WORD_CLSID)
    with olefile.OleFileIO(compound_file_bytes(None, {"a": b"1"})) as ole:
        assert ole.root.clsid == ""


def test_small_streams_share_sectors_through_the_mini_stream() -> None:
    tree = {f"s{i}": os.urandom(100) for i in range(64)}
    data = compound_file_bytes(None, tree)
    # In their own 512-byte sectors the 64 streams alone would fill 32 KiB.
    assert len(data) < 64 * SECTOR_SIZE
    assert header_field(data, 0x38) == MINI_STREAM_CUTOFF
    assert header_field(data, 0x40) > 0  # MiniFAT sectors
    assert read_back(data) == tree


def in_order_names(
    ole: olefile.OleFileIO[str], sid: int, blacks: int, parent_red: bool, heights: set[int]
) -> list[str]:
    """Names of the subtree at ``sid`` in order; adds each path's black count to ``heights``."""
    if sid == olefile.NOSTREAM:
        heights.add(blacks)
        return []
    entry = ole.direntries[sid]
    is_red = entry.color == RED
    assert not (is_red and parent_red), "a red node with a red child"
    blacks += 0 if is_red else 1
    left = in_order_names(ole, entry.sid_left, blacks, is_red, heights)
    right = in_order_names(ole, entry.sid_right, blacks, is_red, heights)
    return [*left, entry.name, *right]


def test_each_storage_is_a_valid_red_black_search_tree() -> None:
    tree = {f"dir/{'x' * (i % 7 + 1)}{i}": b"." for i in range(300)} | {f"top{i}": b"" for i in range(33)}
    with olefile.OleFileIO(compound_file_bytes(None, tree), raise_defects=olefile.DEFECT_INCORRECT) as ole:
        storages = [ole.root, *(e for e in ole.direntries if e is not None and e.entry_type == 1)]
        assert len(storages) == 2
        for storage in storages:
            heights: set[int] = set()
            assert ole.direntries[storage.sid_child].color == BLACK
            names = in_order_names(ole, storage.sid_child, 0, False, heights)
            assert names == sorted(names, key=cfb_name_key)
            assert len(names) == len(set(names)) and len(heights) == 1


def test_names_compare_by_length_then_case_insensitively() -> None:
    assert sorted(["bb", "A", "a2", "C"], key=cfb_name_key) == ["A", "C", "a2", "bb"]


@pytest.mark.parametrize(
    ("tree", "why"),
    [
        ({"x" * 32: b""}, "longer than 31"),
        ({"a:b": b""}, "forbidden character"),
        ({"a!b": b""}, "forbidden character"),
        ({"": b""}, "empty name"),
        ({"dir//x": b""}, "empty name"),
        ({"Name": b"", "NAME": b""}, "names differ only in case"),
        ({"a": b"", "a/b": b""}, "a stream used as a storage"),
        ({"a/b": b"", "a": b""}, "a storage used as a stream"),
    ],
)
def test_trees_a_compound_file_cannot_hold_are_programming_errors(tree: dict[str, bytes], why: str) -> None:
    with pytest.raises(ValueError):
        compound_file_bytes(None, tree)
