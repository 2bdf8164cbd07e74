"""Durable file placement: temp name in the target directory, fsync, then rename.

A reader of the target directory sees either nothing or the whole file, and a crash at
any point leaves at worst a hidden temp file, never a partial file under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".mukaika-tmp-"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_durably(reader: BinaryIO, dst: Path) -> str:
    """Create ``dst`` (never an existing name, never through a symlink), copy ``reader`` into
    it and fsync it; return the SHA-256 of what was written. ``dst`` is gone on failure."""
    digest = hashlib.sha256()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
    try:
        with os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(1 << 20):
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def write_temp_copy(src: Path, directory: Path) -> Path:
    """Copy ``src`` to a hidden temp name in ``directory`` and fsync it."""
    tmp = directory / f"{TEMP_PREFIX}{os.urandom(8).hex()}"
    with src.open("rb") as reader:
        copy_durably(reader, tmp)
    return tmp


def place_file(src: Path, directory: Path, name: str, *, overwrite: bool = False) -> Path:
    """Durably put a copy of ``src`` into ``directory`` as ``name``; return the final path.

    Without ``overwrite`` an existing name is never replaced: the copy gets the first free
    name among ``name``, ``stem (1).ext``, ``stem (2).ext``, ...
    """
    directory.mkdir(parents=True, exist_ok=True)
    tmp = write_temp_copy(src, directory)
    try:
        if overwrite:
            final = directory / name
            tmp.replace(final)
        else:
            final = link_without_overwrite(tmp, directory, name)
            tmp.unlink()
        fsync_dir(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def link_without_overwrite(tmp: Path, directory: Path, name: str) -> Path:
    """Hard-link ``tmp`` under the first free variant of ``name`` (link fails if it exists)."""
    for candidate in candidate_names(name):
        final = directory / candidate
        with contextlib.suppress(FileExistsError):
            os.link(tmp, final)
            return final
    raise FileExistsError(f"no free name for {name} in {directory}")


def candidate_names(name: str, limit: int = 10_000) -> Iterator[str]:
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension, or a dot-file
        stem, dot, ext = name, "", ""
    yield name
    for n in range(1, limit):
        yield f"{stem} ({n}){dot}{ext}"
