"""Attachments go through the whole pipeline, one archive level deeper, as archive members do.

Each is written to a private scratch folder beside the output under the name its sender gave
(cleaned: no folders, no characters Windows refuses), judged by ``process_member`` and
counted against the budget of the tree it belongs to (a zip attached to a message attached
to a message draws on one budget). A name that hides what it is (direction overrides,
invisible characters) is refused here, before any parser sees the content.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path, PurePosixPath

from sanitizers.archives.budget import TreeBudget
from sanitizers.archives.names import hides_in_a_name
from sanitizers.base import MemberProcessor, MemberResult
from sanitizers.errors import LimitError

_FORBIDDEN = frozenset('<>:"|?*')
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)
MAX_NAME = 200


def clean_name(untrusted_name: str) -> str | None:
    """The name to judge and send an attachment under, or None when the name disguises
    itself (``mail.unsafe_name``)."""
    name = unicodedata.normalize("NFC", untrusted_name.replace("\\", "/").rsplit("/", 1)[-1])
    if any(hides_in_a_name(ch) for ch in name):
        return None
    name = "".join(
        "_" if ch in _FORBIDDEN else ch for ch in name if unicodedata.category(ch) not in ("Cc", "Zl", "Zp")
    )
    name = name.strip().rstrip(". ")
    if PurePosixPath(name).stem.split(".")[0].lower() in _WINDOWS_DEVICES:
        name = f"_{name}"
    if len(name) > MAX_NAME:
        suffix = PurePosixPath(name).suffix[:20]
        name = name[: MAX_NAME - len(suffix)] + suffix
    return name or "attachment"


class Attachments:
    """Judges attachments in order, each in a scratch folder of its own under ``work``."""

    def __init__(self, work: Path, process_member: MemberProcessor, budget: TreeBudget) -> None:
        self.work = work
        self.process_member = process_member
        self.budget = budget
        self._count = 0

    def judge(self, untrusted_data: bytes, name: str) -> MemberResult:
        self._count += 1
        self.budget.take_members(1, "message")
        self.budget.take_bytes(len(untrusted_data), name)
        extracted = self.work / f"member-{self._count}"
        scratch = self.work / f"member-{self._count}.out"
        scratch.mkdir()
        try:
            extracted.write_bytes(untrusted_data)
            result = self.process_member(extracted, name, scratch)
        finally:
            extracted.unlink(missing_ok=True)
        if not result.released and result.reason_code == "archive.bomb":
            # a bomb one level down is a bomb here too, whatever the rule says about attachments
            raise LimitError("archive.bomb", f"{name}: {result.reason_message}")
        return result
