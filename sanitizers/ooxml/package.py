"""The package's ZIP, read under the archive limits (OOXML, and OpenDocument's too).

The table of contents is judged by the archive sanitiser's checks before anything is
decompressed (member count, declared sizes and ratio, duplicate and case-colliding names,
overlapping entries, encryption); each part is then decompressed through the archive tree
budget, which counts the bytes actually produced.  Refusals keep the archive codes that
describe a bomb; the ones that mean "this is not a sound package" become the format's own
``malformed`` code (``ooxml.malformed`` unless the caller names another).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import olefile

from sanitizers.archives.budget import TreeBudget, tree_budget
from sanitizers.archives.zipcheck import Entry, check_entries, extract_entry, open_zip
from sanitizers.base import Limits
from sanitizers.errors import EncryptedError, MalformedError, SanitizeError

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Archive refusals that, for an Office file, mean the package itself is unsound.
_UNSOUND_PACKAGE = frozenset({"archive.malformed", "archive.unsafe_path", "archive.name_encoding"})


class Package:
    """The parts of one OOXML package, looked up case-insensitively as OPC requires."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        entries: list[Entry],
        limits: Limits,
        budget: TreeBudget,
        malformed: str = "ooxml.malformed",
    ) -> None:
        self._archive = archive
        self._limits = limits
        self._budget = budget
        self._malformed = malformed
        self._entries = {entry.name.casefold(): entry for entry in entries if not entry.is_dir}

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self._entries.values()]

    def lookup(self, name: str) -> str | None:
        """The member's own spelling of part ``name``, or None when there is no such part."""
        entry = self._entries.get(name.casefold())
        return entry.name if entry is not None else None

    def read(self, name: str) -> bytes:
        """Decompress one part, counting what it produces against the limits."""
        entry = self._entries[name.casefold()]
        buffer = io.BytesIO()
        extract_entry(self._archive, entry, buffer, self._limits, self._budget, self._malformed)
        return buffer.getvalue()


def refuse_compound_file(untrusted_src: Path, malformed: str = "ooxml.malformed") -> None:
    """An OLE compound file here is an encrypted package or not a package at all."""
    with untrusted_src.open("rb") as f:
        if f.read(len(_OLE_MAGIC)) != _OLE_MAGIC:
            return
    try:
        with olefile.OleFileIO(str(untrusted_src)) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)}
    except Exception as exc:  # olefile raises many kinds of errors on hostile input
        raise MalformedError(malformed, f"OLE compound file cannot be read: {exc}") from None
    if "encryptedpackage" in streams or "\x06dataspaces" in streams:
        raise EncryptedError("office.encrypted", "encrypted or rights-protected Office package")
    raise MalformedError(malformed, "an OLE compound file (Office 97-2003), not a ZIP package")


@contextmanager
def open_package(
    untrusted_src: Path, limits: Limits, malformed: str = "ooxml.malformed"
) -> Iterator[Package]:
    """The package, its table of contents already judged; decompression is budgeted."""
    limits.checked_size(untrusted_src)
    refuse_compound_file(untrusted_src, malformed)
    try:
        with tree_budget(limits) as budget, open_zip(untrusted_src) as archive:
            entries = check_entries(archive, untrusted_src, limits, "reject")
            budget.take_members(len(entries), "package")
            yield Package(archive, entries, limits, budget, malformed)
    except SanitizeError as exc:
        if exc.code == "archive.encrypted":
            raise type(exc)("office.encrypted", exc.detail) from None
        if exc.code in _UNSOUND_PACKAGE:
            raise type(exc)(malformed, exc.detail) from None
        raise
